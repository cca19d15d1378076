"""A far end that limits like a provider might (issue 17): nginx's own ``limit_req`` (a leaky bucket,
burst 5, nodelay), a token bucket, fixed one-second windows and a sliding one-second window, each at
150 requests/s shared by sends and status polls, as Messente counts them. ``run`` drives smsq against
each and reports 429s and the share of the allowed rate used."""
