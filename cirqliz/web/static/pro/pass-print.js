// The "Imprimer" button of the printable pass (no inline handler: the CSP forbids them).
document.querySelectorAll('[data-print]').forEach((button) => {
  button.addEventListener('click', () => window.print());
});
