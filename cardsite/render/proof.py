"""Draw a print proof: both sides of a card's PDF side by side in one PNG, for the preview and pull requests.

The PDF itself is rasterised (pypdfium2, PDFium's renderer), so the proof shows exactly what goes to press;
the trim is outlined, so the bleed that is cut away is plain to see.
"""

from __future__ import annotations

import io

#: Proof resolution: enough to read 5 pt text and see every QR module.
PROOF_DPI = 200
GAP_PX = 24


def proof_png(pdf: bytes, dpi: int = PROOF_DPI) -> bytes:
    """Return a PNG of the PDF's pages (front, back) side by side on grey, each trim box outlined."""
    import pypdfium2 as pdfium
    from PIL import Image, ImageDraw

    doc = pdfium.PdfDocument(pdf)
    try:
        pages = []
        for page in doc:
            image = page.render(scale=dpi / 72).to_pil().convert("RGB")
            left, bottom, right, top = page.get_trimbox()
            height = page.get_height()
            scale = dpi / 72
            box = (left * scale, (height - top) * scale, right * scale, (height - bottom) * scale)
            ImageDraw.Draw(image).rectangle(box, outline=(255, 0, 170), width=1)
            pages.append(image)
    finally:
        doc.close()
    width = sum(p.width for p in pages) + GAP_PX * (len(pages) + 1)
    height = max(p.height for p in pages) + 2 * GAP_PX
    sheet = Image.new("RGB", (width, height), (200, 200, 200))
    x = GAP_PX
    for image in pages:
        sheet.paste(image, (x, GAP_PX))
        x += image.width + GAP_PX
    buf = io.BytesIO()
    sheet.save(buf, format="PNG", optimize=True)
    return buf.getvalue()
