"""hexmill: an open industrial internet platform."""
