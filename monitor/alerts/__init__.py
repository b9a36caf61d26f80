"""Alert delivery: drains the outbox that incident transitions fill."""
