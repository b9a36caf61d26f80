"""Shared test helpers: loopback fixture servers, fake DNS and a spider runner."""
