// Links marked data-back go to the previous page when there is one (no inline javascript: URL).
document.querySelectorAll('a[data-back]').forEach((link) => {
  link.addEventListener('click', (event) => {
    if (window.history.length > 1) {
      event.preventDefault();
      window.history.back();
    }
  });
});
