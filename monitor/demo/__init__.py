"""The bundled simulated internet: a loopback forward proxy serving virtual sites for the demo and tests."""
