"""Filters of the device and dead-letter lists, shared by the API and the console."""

from __future__ import annotations

from hexmill.connect.registry.models import DeadLetter, Device
from hexmill.core.filters import Filter, FilterSet
from hexmill.core.i18n import N_

DEVICE_FILTERS = FilterSet(
    (
        Filter("equipment_id", Device.equipment_id, "eq", int, label=N_("Equipment")),
        Filter("protocol", Device.protocol, "eq", label=N_("Protocol")),
        Filter("link_state", Device.link_state, "eq", label=N_("Connection")),
        Filter("name", Device.name, "icontains", label=N_("Name")),
    )
)

DEAD_LETTER_FILTERS = FilterSet(
    (
        Filter("device_id", DeadLetter.device_id, "eq", int, label=N_("Device")),
        Filter("channel", DeadLetter.channel, "eq", label=N_("Channel")),
    )
)
