"""The encryption keys of data at rest: rotate, report and retire them (``payments keys``)."""
