"""Real device drivers behind the capability protocols.

Each driver talks to an injected *transport* (a serial line, a Modbus client, a seabreeze device object), so the
protocol logic is tested against fakes (:mod:`flowqd.devices.testing`) without the hardware libraries. The
libraries (pyserial, pymodbus, seabreeze; ``pip install 'flowqd[hardware]'``) are imported only inside the
``from_config`` factories that open a real port.
"""
