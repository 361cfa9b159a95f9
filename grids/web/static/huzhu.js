// Behaviour of the pages lives here, never inline: the Content-Security-Policy
// allows scripts from this site's files only.
"use strict";

// A link marked data-back returns to the previous page (the form just filled in),
// or follows its href when there is no history.
document.addEventListener("click", (event) => {
  const link = event.target instanceof Element ? event.target.closest("a[data-back]") : null;
  if (link && window.history.length > 1) {
    event.preventDefault();
    window.history.back();
  }
});
