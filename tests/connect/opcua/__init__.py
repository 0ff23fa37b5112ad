"""Tests of the OPC UA client connector."""
