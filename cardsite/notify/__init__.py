"""Stage 6: changed cards are announced.

Print jobs for the print shop and notices for the card's owner (printjob, strings), what was
already announced (ledger), sending through SES (outbox), and the command (announce).
"""
