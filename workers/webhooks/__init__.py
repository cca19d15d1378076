"""`smsq webhooks`: the delivery-report receiver (a small ASGI app). Producers never import it."""
