// CloudFront Function (cloudfront-js-2.0), viewer request.
//
// 1. Refuses the reserved internal prefix `_cardsite/` (deploy manifest,
//    notify state) with a 404, whatever case or percent-encoding the viewer
//    uses: S3 decodes the key, so the check runs on the decoded path.
// 2. Maps pretty card URLs onto the objects publish uploads:
//    `/jana` and `/jana/` -> `/jana/index.html`, `/` -> `/index.html`.
//    Paths whose last segment has an extension (`.vcf`, `.svg`, `.js`) pass.

var RESERVED_SEGMENT = '_cardsite';

function reply(statusCode, statusDescription) {
    return {
        statusCode: statusCode,
        statusDescription: statusDescription,
        headers: { 'cache-control': { value: 'no-store' } }
    };
}

// Decode until stable (at most three rounds) so %255F tricks cannot hide the
// prefix from this check while reaching S3 in another form.
function decodePath(uri) {
    var current = uri;
    for (var i = 0; i < 3; i++) {
        var next = decodeURIComponent(current);
        if (next === current) {
            return current;
        }
        current = next;
    }
    return current;
}

function isReserved(uri) {
    var segments = decodePath(uri).toLowerCase().split(/[\/\\]/);
    for (var i = 0; i < segments.length; i++) {
        if (segments[i] === RESERVED_SEGMENT) {
            return true;
        }
    }
    return false;
}

function handler(event) {
    var request = event.request;
    var uri = request.uri;

    try {
        if (isReserved(uri)) {
            return reply(404, 'Not Found');
        }
    } catch (e) {
        // Malformed percent-encoding: S3 would refuse it too.
        return reply(400, 'Bad Request');
    }

    if (uri.charAt(uri.length - 1) === '/') {
        request.uri = uri + 'index.html';
    } else if (uri.substring(uri.lastIndexOf('/') + 1).indexOf('.') === -1) {
        request.uri = uri + '/index.html';
    }
    return request;
}
