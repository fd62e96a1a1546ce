// Keyboard help for the controls drawn closed as plain markup (LazyMenu, the runs page's filters). A menu opened with
// Enter or Space is a MudMenu swapped in for a plain button, so the keyboard is handed to its first item once the
// popover shows it (it renders a frame later).
window.hubFocusFirstMenuItem = function () {
  var tries = 0;
  (function attempt() {
    var item = document.querySelector(".mud-popover-open [role^='menuitem']");
    if (item) {
      item.focus();
    } else if (tries++ < 30) {
      requestAnimationFrame(attempt);
    }
  })();
};

// A menu or select that closed hands the focus back to its button, but only if the focus went nowhere meanwhile (it
// fell to the page when the open list was removed): a user who already clicked or tabbed elsewhere keeps their place.
window.hubFocusIfLost = function (element) {
  var active = document.activeElement;
  if (element && (!active || active === document.body || !active.isConnected)) {
    element.focus();
  }
};

// Arrow keys, Home and End move through an open menu's items; Enter and Space choose the one with the focus; Escape
// closes the menu (as a click beside it would), wherever the focus is. Taken first (capture, on the window) and not passed on:
// MudMenu counts its own position from the activator, which a menu swapped in open never had focused, so its
// ArrowDown would land on the first item again.
window.addEventListener("keydown", function (e) {
  if (["ArrowDown", "ArrowUp", "Home", "End", "Enter", " ", "Escape"].indexOf(e.key) < 0 || !e.target.closest) {
    return;
  }

  if (e.key === "Escape") {
    var open = document.querySelector(".mud-popover-open [role='menu']");
    var popover = open && open.closest(".mud-popover");
    var overlay = popover && popover.previousElementSibling;
    if (overlay && overlay.classList.contains("mud-overlay")) {
      overlay.click();
      e.preventDefault();
      e.stopPropagation();
    }

    return;
  }

  var menu = e.target.closest(".mud-popover-open [role='menu']");
  if (!menu) {
    return;
  }

  var items = Array.prototype.slice.call(menu.querySelectorAll("[role^='menuitem']:not([aria-disabled='true'])"));
  if (items.length === 0) {
    return;
  }

  var current = e.target.closest("[role^='menuitem']");
  if (e.key === "Enter" || e.key === " ") {
    if (current) {
      current.click();
      e.preventDefault();
      e.stopPropagation();
    }

    return;
  }

  var at = items.indexOf(current);
  var next = e.key === "Home" ? 0
    : e.key === "End" ? items.length - 1
    : e.key === "ArrowDown" ? (at + 1) % items.length
    : (at - 1 + items.length) % items.length;
  items[next].focus();
  e.preventDefault();
  e.stopPropagation();
}, true);
