"""Stage 2: a card becomes its files.

Pure functions of a Card: the landing pages (pages), the vCard (vcard), the QR code (qr) and
the photo's derivatives (photo).
"""
