"""Following a sent message to its final status: the status map, the poll schedule, status-poll and
delivery-report tasks. Polls and reports settle a message through the same function
(``smsq.workers.status.settle``), so neither can move a message backwards or count it twice."""
