"""Bring people in: import spreadsheets and vCards, and sync cards with a company directory."""
