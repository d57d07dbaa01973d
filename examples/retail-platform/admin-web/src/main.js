import { countByStatus, toShip } from "./orders.js";

const orders = [
  { id: "A-17", status: "paid", placedAt: "2025-01-15T09:30:00Z" },
  { id: "A-12", status: "paid", placedAt: "2025-01-14T16:05:00Z" },
  { id: "A-09", status: "shipped", placedAt: "2025-01-13T11:00:00Z" },
];

const counts = countByStatus(orders);
document.querySelector("#app").innerHTML = `
  <table>${Object.entries(counts).map(([status, n]) => `<tr><th>${status}</th><td>${n}</td></tr>`).join("")}</table>
  <p>To ship: ${toShip(orders).map((order) => order.id).join(", ")}</p>`;
