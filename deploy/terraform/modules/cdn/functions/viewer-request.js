// CloudFront Function (cloudfront-js-2.0), viewer request.
//
// 1. Refuses the reserved internal prefix `_cardsite/` (deploy manifest,
//    notify state) with a 404, whatever case or percent-encoding the viewer
//    uses: S3 decodes the key, so the check runs on the decoded path.
// 2. Maps card URLs onto the objects publish uploads:
//    `/jana/` -> `/jana/index.html` (and `/` -> `/index.html`).
//    `/jana` is redirected to `/jana/` first: the page links `qr.svg` and
//    `jana.vcf` relatively, which only resolve under the trailing slash.
//    Card URLs and QR codes already end in `/`, so scans never redirect.
//    Paths whose last segment has an extension (`.vcf`, `.svg`, `.js`) pass.
// 3. The redirect's Location is always a path on this host. A browser reads
//    `//evil.example/x/` (and `/\evil.example`, or `/<tab>/evil.example`, as
//    it drops tabs and turns `\` into `/`) as another host, so leading
//    slashes, backslashes, tabs and their percent-encodings are collapsed
//    into the single `/` the Location starts with.

var RESERVED_SEGMENT = '_cardsite';

// What the WHATWG URL parser drops anywhere in a URL: tab, LF, CR.
var DROPPED = /[\t\n\r]/g;
// A leading run of slashes, backslashes and dropped characters, raw or
// percent-encoded once or more (%2F, %252F, ...).
var LEADING_SLASHES = /^(?:[\/\\\t\n\r]|%(?:25)*(?:2f|5c|09|0a|0d))+/i;

function reply(statusCode, statusDescription, headers, cacheControl) {
    headers['cache-control'] = { value: cacheControl };
    return {
        statusCode: statusCode,
        statusDescription: statusDescription,
        headers: headers
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

// `/<uri>/` as a path on the request's own host, never a network-path
// reference (`//host`) that a browser would follow to another site.
function sameHostPath(uri) {
    return '/' + uri.replace(DROPPED, '').replace(LEADING_SLASHES, '') + '/';
}

// Rebuilds the query string as the viewer sent it, for the redirect.
function queryString(querystring) {
    var parts = [];
    for (var key in querystring) {
        var entry = querystring[key];
        var values = entry.multiValue ? entry.multiValue : [entry];
        for (var i = 0; i < values.length; i++) {
            parts.push(values[i].value === '' ? key : key + '=' + values[i].value);
        }
    }
    return parts.length ? '?' + parts.join('&') : '';
}

function handler(event) {
    var request = event.request;
    var uri = request.uri;

    try {
        if (isReserved(uri)) {
            return reply(404, 'Not Found', {}, 'no-store');
        }
    } catch (e) {
        // Malformed percent-encoding: S3 would refuse it too.
        return reply(400, 'Bad Request', {}, 'no-store');
    }

    if (uri.charAt(uri.length - 1) === '/') {
        request.uri = uri + 'index.html';
    } else if (uri.substring(uri.lastIndexOf('/') + 1).indexOf('.') === -1) {
        var location = sameHostPath(uri) + queryString(request.querystring || {});
        return reply(301, 'Moved Permanently', { location: { value: location } }, 'max-age=3600');
    }
    return request;
}
