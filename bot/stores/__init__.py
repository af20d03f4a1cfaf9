"""Redis adapters for the ports in `services.ports`; redis errors are mapped in `_boundary`."""
