import { addToCart, cartTotal, formatPrice } from "./cart.js";

const catalogue = [
  { sku: "RA-1001", name: "Canvas tote", priceCents: 2400 },
  { sku: "RA-1002", name: "Enamel mug", priceCents: 1250 },
];

let cart = [];
const app = document.querySelector("#app");

function render() {
  app.innerHTML = `
    <ul>${catalogue
      .map((p) => `<li>${p.name} ${formatPrice(p.priceCents)} <button data-sku="${p.sku}">Add</button></li>`)
      .join("")}</ul>
    <p id="total">Cart: ${formatPrice(cartTotal(cart))}</p>`;
  for (const button of app.querySelectorAll("button")) {
    button.addEventListener("click", () => {
      cart = addToCart(cart, catalogue.find((p) => p.sku === button.dataset.sku));
      render();
    });
  }
}

render();
