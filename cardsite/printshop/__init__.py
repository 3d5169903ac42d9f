"""A reference print-shop inbox: poll an IMAP mailbox, check each print job, file it for the press exactly once."""
