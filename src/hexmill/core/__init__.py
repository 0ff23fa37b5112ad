"""Platform core: config, database, tenancy, identity and access, audit, errors, i18n."""
