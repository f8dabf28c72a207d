// The app shell: sign-in, the navigation for the user's roles, and the hash router (#/path/with/:params?query).
import { api, ApiError, login, logout, session } from "./api.js";
import { errorBox, form, h, page, replace, setClinicZone } from "./ui.js";
import { screens as frontdesk } from "./screens/frontdesk.js";
import { screens as clinician } from "./screens/clinician.js";
import { screens as billing } from "./screens/billing.js";
import { screens as claims } from "./screens/claims.js";
import { screens as pharmacyLab } from "./screens/pharmacy_lab.js";
import { screens as patientPortal } from "./screens/patient.js";

// A screen: {path: "patients/:id", label, group, roles: [...], nav: bool, home: [roles], render(ctx) → Node}.
const SCREENS = [...frontdesk, ...clinician, ...billing, ...claims, ...pharmacyLab, ...patientPortal];
const GROUPS = ["My care", "Front desk", "Clinic", "Billing", "Claims", "Pharmacy & lab"];

const view = document.getElementById("view");
const nav = document.getElementById("nav");
let user = null;

function allowed(screen) {
  if (!user) return false;
  if (user.roles.includes("admin")) return !screen.roles || !screen.roles.every((r) => r === "patient");
  return !screen.roles || screen.roles.some((role) => user.roles.includes(role));
}

function match(pattern, path) {
  const want = pattern.split("/");
  const got = path.split("/");
  if (want.length !== got.length) return null;
  const params = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i].startsWith(":")) params[want[i].slice(1)] = decodeURIComponent(got[i]);
    else if (want[i] !== got[i]) return null;
  }
  return params;
}

export function navigate(path) {
  if (location.hash === `#/${path}`) route();
  else location.hash = `#/${path}`;
}

function homeOf() {
  const home = SCREENS.find((s) => s.home && s.home.some((role) => user.roles.includes(role)));
  return home ? home.path : (SCREENS.find(allowed)?.path ?? "");
}

function renderNav(current) {
  const items = SCREENS.filter((s) => s.nav && allowed(s));
  replace(
    nav,
    GROUPS.map((group) => {
      const inGroup = items.filter((s) => s.group === group);
      if (!inGroup.length) return null;
      return h(
        "div",
        { class: "nav-group" },
        h("h2", {}, group),
        h("ul", {}, inGroup.map((s) => h("li", {}, h("a", { href: `#/${s.path}`, "aria-current": s.path === current ? "page" : undefined }, s.label)))),
      );
    }),
  );
}

async function route() {
  if (!user) return showLogin();
  const [path, search = ""] = location.hash.replace(/^#\/?/, "").split("?");
  if (!path) return navigate(homeOf());
  let found = null;
  let params = null;
  for (const screen of SCREENS) {
    params = match(screen.path, path);
    if (params) {
      found = screen;
      break;
    }
  }
  renderNav(found?.nav ? found.path : (found?.parent ?? ""));
  if (!found || !allowed(found)) {
    replace(view, page("Not found", h("p", {}, "There is no such page for your role. "), h("a", { href: "#/" }, "Go to your start page")));
    return;
  }
  const ctx = { params, query: Object.fromEntries(new URLSearchParams(search)), user, navigate };
  try {
    const content = await found.render(ctx);
    replace(view, content);
    document.title = `${found.label || found.title || "caremesh"} · caremesh`;
    view.querySelector("h1")?.focus();
  } catch (error) {
    replace(view, page("Could not open this page", errorBox(error)));
  }
}

function showLogin(message) {
  nav.replaceChildren();
  document.getElementById("whoami").textContent = "";
  document.getElementById("sign-out").hidden = true;
  document.title = "Sign in · caremesh";
  const signIn = form({
    className: "login",
    submit: "Sign in",
    fields: [
      { name: "email", label: "Email", type: "email", required: true, autocomplete: "username" },
      { name: "password", label: "Password", type: "password", required: true, autocomplete: "current-password" },
    ],
    onSubmit: async ({ email, password }) => {
      user = await login(email, password);
      await readClinic();
      showUser();
      route();
    },
  });
  replace(view, h("section", { class: "page login-page" }, h("h1", { tabindex: "-1" }, "Sign in to caremesh"), message ? h("p", { class: "notice", role: "status" }, message) : null, signIn));
  view.querySelector("input")?.focus();
}

// Every date and time the app shows is the clinic's (ui.js), wherever this computer is.
async function readClinic() {
  setClinicZone((await api("GET", "/clinic")).timezone);
}

function showUser() {
  document.getElementById("whoami").textContent = `${user.full_name} · ${user.roles.map((r) => r.replaceAll("_", " ")).join(", ")}`;
  document.getElementById("sign-out").hidden = false;
}

document.getElementById("sign-out").addEventListener("click", async () => {
  await logout();
  user = null;
  location.hash = "";
  showLogin("You have signed out.");
});

session.onExpired = () => {
  if (!user) return;
  user = null;
  showLogin("Your session has ended. Please sign in again.");
};

window.addEventListener("hashchange", route);

async function start() {
  if (session.tokens) {
    try {
      user = await api("GET", "/auth/me");
      await readClinic();
      showUser();
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      session.tokens = null;
    }
  }
  route();
}

start();
