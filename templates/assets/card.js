// In-app browsers (Instagram, Facebook, LinkedIn, X, ...) silently fail to
// download .vcf files; tell the visitor to open the page in the real browser.
(function () {
  var ua = navigator.userAgent || "";
  if (/FBAN|FBAV|FB_IAB|Instagram|LinkedInApp|Twitter|Line\/|MicroMessenger|Snapchat|TikTok|BytedanceWebview/i.test(ua)) {
    var hint = document.getElementById("inapp-hint");
    if (hint) hint.hidden = false;
  }
})();
// Share: the OS share sheet where there is one (Web Share API), else copy the link.
// The button stays hidden without a script, because without one it could do neither.
(function () {
  var button = document.querySelector("button.share");
  var status = document.querySelector(".status");
  if (!button || !(navigator.share || (navigator.clipboard && window.isSecureContext))) return;
  button.hidden = false;
  button.addEventListener("click", function () {
    var url = button.getAttribute("data-url");
    if (navigator.share) {
      navigator.share({ title: button.getAttribute("data-title"), url: url }).catch(function () {});
      return;
    }
    navigator.clipboard.writeText(url).then(function () {
      if (status) status.textContent = button.getAttribute("data-copied");
    });
  });
})();
