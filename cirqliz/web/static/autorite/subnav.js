// On a phone the section links scroll sideways: bring the current section into view.
document.addEventListener("DOMContentLoaded", () => {
  const nav = document.querySelector(".subnav");
  const current = nav && nav.querySelector('[aria-current="page"]');
  if (current && nav.scrollWidth > nav.clientWidth) {
    nav.scrollLeft = current.offsetLeft - nav.offsetLeft - (nav.clientWidth - current.offsetWidth) / 2;
  }
});
