// In-app browsers (Instagram, Facebook, LinkedIn, X, ...) silently fail to
// download .vcf files; tell the visitor to open the page in the real browser.
(function () {
  var ua = navigator.userAgent || "";
  if (/FBAN|FBAV|FB_IAB|Instagram|LinkedInApp|Twitter|Line\/|MicroMessenger|Snapchat|TikTok|BytedanceWebview/i.test(ua)) {
    var hint = document.getElementById("inapp-hint");
    if (hint) hint.hidden = false;
  }
})();
