"""The words of the owner notice, one block per card language.

Adding a language is a change to this file only: add a block under its code
(the same keys as "en"). tests/test_notify.py fails when a language allowed in
contact.schema.json has no block here. The strings live in the package, not in
templates/, because the owner notice is part of the notify contract, not of
the site's look, and a project's own templates folder must not be able to
break it.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)

FALLBACK = "en"

#: Placeholders: {name} the person's name, {org} the organisation, {url} the card's page,
#: {vcf_url} the vCard download; {apple_url}, {google_url}, {background_url} the wallet pass, the Google Wallet
#: page and the video-call background, in the notice only when the build made them.
STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "subject_created": "Your digital business card is live",
        "subject_updated": "Your digital business card was updated",
        "greeting": "Hello {name},",
        "intro_created": "your digital business card at {org} is now online:",
        "intro_updated": "your digital business card at {org} was updated. It is online at:",
        "share": "Share the link, or let people scan the QR code with their phone camera.",
        "vcard": "Your contact details as a vCard: {vcf_url}",
        "footer": "This message was sent automatically because your card changed. "
        "To correct something, ask the team that maintains the cards.",
        "qr_alt": "QR code of your card",
        "wallet_apple": "Your card for Apple Wallet: {apple_url} "
        "(open the link in Safari on your iPhone; other browsers do not hand passes to Wallet).",
        "wallet_google": "Save your card to Google Wallet: {google_url}",
        "wallet_background": "Your video-call background (Zoom, Teams, Meet): {background_url}",
    },
    "de": {
        "subject_created": "Ihre digitale Visitenkarte ist online",
        "subject_updated": "Ihre digitale Visitenkarte wurde aktualisiert",
        "greeting": "Guten Tag {name},",
        "intro_created": "Ihre digitale Visitenkarte bei {org} ist jetzt online:",
        "intro_updated": "Ihre digitale Visitenkarte bei {org} wurde aktualisiert. Sie ist online unter:",
        "share": "Teilen Sie den Link oder lassen Sie den QR-Code mit der Handykamera scannen.",
        "vcard": "Ihre Kontaktdaten als vCard: {vcf_url}",
        "footer": "Diese Nachricht wurde automatisch verschickt, weil sich Ihre Karte geändert hat. "
        "Für Korrekturen wenden Sie sich bitte an das Team, das die Karten pflegt.",
        "qr_alt": "QR-Code Ihrer Karte",
        "wallet_apple": "Ihre Karte für Apple Wallet: {apple_url} "
        "(öffnen Sie den Link auf dem iPhone in Safari; andere Browser geben Pässe nicht an Wallet weiter).",
        "wallet_google": "Ihre Karte in Google Wallet speichern: {google_url}",
        "wallet_background": "Ihr Hintergrund für Videoanrufe (Zoom, Teams, Meet): {background_url}",
    },
    "fr": {
        "subject_created": "Votre carte de visite numérique est en ligne",
        "subject_updated": "Votre carte de visite numérique a été mise à jour",
        "greeting": "Bonjour {name},",
        "intro_created": "votre carte de visite numérique chez {org} est maintenant en ligne :",
        "intro_updated": "votre carte de visite numérique chez {org} a été mise à jour. Elle est en ligne ici :",
        "share": "Partagez le lien, ou laissez scanner le code QR avec l'appareil photo d'un téléphone.",
        "vcard": "Vos coordonnées au format vCard : {vcf_url}",
        "footer": "Ce message a été envoyé automatiquement parce que votre carte a changé. "
        "Pour toute correction, adressez-vous à l'équipe qui gère les cartes.",
        "qr_alt": "Code QR de votre carte",
        "wallet_apple": "Votre carte pour Apple Wallet : {apple_url} "
        "(ouvrez le lien dans Safari sur votre iPhone ; "
        "les autres navigateurs ne transmettent pas les cartes à Wallet).",
        "wallet_google": "Enregistrez votre carte dans Google Wallet : {google_url}",
        "wallet_background": "Votre arrière-plan pour les appels vidéo (Zoom, Teams, Meet) : {background_url}",
    },
    "it": {
        "subject_created": "Il tuo biglietto da visita digitale è online",
        "subject_updated": "Il tuo biglietto da visita digitale è stato aggiornato",
        "greeting": "Buongiorno {name},",
        "intro_created": "il tuo biglietto da visita digitale presso {org} è ora online:",
        "intro_updated": "il tuo biglietto da visita digitale presso {org} è stato aggiornato. È online qui:",
        "share": "Condividi il link, oppure fai scansionare il codice QR con la fotocamera del telefono.",
        "vcard": "I tuoi dati di contatto in formato vCard: {vcf_url}",
        "footer": "Questo messaggio è stato inviato automaticamente perché il tuo biglietto è cambiato. "
        "Per correzioni rivolgiti al team che gestisce i biglietti.",
        "qr_alt": "Codice QR del tuo biglietto",
        "wallet_apple": "Il tuo biglietto per Apple Wallet: {apple_url} "
        "(apri il link in Safari sull'iPhone; gli altri browser non passano i pass a Wallet).",
        "wallet_google": "Salva il tuo biglietto in Google Wallet: {google_url}",
        "wallet_background": "Il tuo sfondo per videochiamate (Zoom, Teams, Meet): {background_url}",
    },
}


def strings_for(lang: str) -> dict[str, str]:
    """Return the owner-notice strings of `lang`, or English when it has none yet."""
    if lang not in STRINGS:
        log.warning("No owner-notice strings for language '%s' in cardsite/mail_strings.py; using English", lang)
    return STRINGS.get(lang, STRINGS[FALLBACK])
