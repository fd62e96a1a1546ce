// Tells the hub the browser's time zone, so pages show times in it (the exact UTC time stays on hover). Runs before
// Blazor starts, so the page's own request and its circuit carry the cookie. Not a secret: a zone name.
(function () {
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.indexOf("hub_tz=" + encodeURIComponent(zone)) < 0) {
      document.cookie = "hub_tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=lax";
    }
  } catch (e) {
    // No Intl: times stay in UTC.
  }
})();
