// The live board: one branch's floor, open orders and kitchen queue, kept current by the cafe feeds.
//
// Each feed owns one part of the state (tables <- /ws/cafe/tables/, orders <- /ws/cafe/orders/,
// portions <- /ws/cafe/kitchen/): the orders feed also carries table and ready events, but taking them
// from two sockets would let a late copy on one undo a newer state from the other.

const OPEN_ORDER_STATUSES = ["open", "pending", "confirmed", "preparing", "ready", "delivered"];
const QUEUE_STATUSES = ["pending", "in_progress", "ready"];
const FEEDS = ["tables", "orders", "kitchen"];
const COMPANY_WIDE = ["owner", "admin"];
// Who gets the kitchen's buttons (ready, bump as served, recall): the server allows these roles.
const KITCHEN_ROLES = ["owner", "admin", "manager", "cook"];
const STORE = "cafe_rt.board";
const params = new URLSearchParams(location.search);
// A portion waiting longer than this turns red: ?late=<minutes> on the board's URL, 10 by default.
const LATE_AFTER_MS = (Number(params.get("late")) > 0 ? Number(params.get("late")) : 10) * 60_000;
// ?station=bar: one station's screen (its own kitchen group); without it, every station side by side.
const STATION = /^[a-z0-9]+(?:[-_][a-z0-9]+)*$/.test(params.get("station") || "") ? params.get("station") : null;
// How many bumped portions stay at hand for a recall.
const SERVED_KEPT = 6;
const RETRY_MAX_MS = 15_000;
// uvicorn pings us, but only our own ping notices a connection that died without a close.
const PING_EVERY_MS = 25_000;
const PONG_WITHIN_MS = 10_000;

const TASK_STATUS_TEXT = { pending: "waiting", in_progress: "cooking", ready: "ready", served: "served" };

function stationName(station) {
  if (!station) return "All stations";
  return station.charAt(0).toUpperCase() + station.slice(1).replace(/[-_]/g, " ");
}

// The hot kitchen first, then the others by name.
const byStation = (a, b) => (a === "kitchen" ? -1 : b === "kitchen" ? 1 : a.localeCompare(b));

class SignedOut extends Error {}

class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : `HTTP ${status}`);
    this.status = status;
  }
}

const $ = (id) => document.getElementById(id);

function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") element.className = value;
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) element.append(child);
  }
  return element;
}

// ---------------------------------------------------------------------------------------------------
// Session: the server keeps it in HttpOnly cookies, which no script of the page can read; the page sends
// them along (same origin) and echoes the readable csrf_token cookie in X-CSRF-Token on every write.
// Only the chosen branch is kept in sessionStorage (this tab). No token is in storage or in a URL.

const session = {
  branchId: null,
  load() {
    try {
      this.branchId = JSON.parse(sessionStorage.getItem(STORE) || "{}").branchId ?? null;
    } catch {
      sessionStorage.removeItem(STORE);
    }
  },
  save() {
    sessionStorage.setItem(STORE, JSON.stringify({ branchId: this.branchId }));
  },
  clear() {
    this.branchId = null;
    sessionStorage.removeItem(STORE);
  },
  // Set by the server at sign-in, readable by design: the mark that there is a session to resume.
  csrfToken() {
    const found = document.cookie.split("; ").find((part) => part.startsWith("csrf_token="));
    return found ? decodeURIComponent(found.slice("csrf_token=".length)) : null;
  },
};

// index.html sends no Referer; its fetches still show their Origin, which the server checks on writes.
const SAME_ORIGIN = { credentials: "same-origin", referrerPolicy: "same-origin", cache: "no-store" };

// The server's clock, so waiting times are right on a screen whose own clock is off.
let clockSkewMs = 0;

function noteServerClock(response) {
  const date = Date.parse(response.headers.get("date") || "");
  if (!Number.isNaN(date)) clockSkewMs = date + 500 - Date.now();
}

const serverNow = () => Date.now() + clockSkewMs;

let refreshing = null;

// The refresh cookie rotates; the server forgives a second use within seconds, but one at a time is enough.
function refreshTokens() {
  refreshing ??= (async () => {
    const response = await fetch("/api/auth/refresh", { method: "POST", ...SAME_ORIGIN });
    if (!response.ok) return false;
    board?.tokenRefreshed();
    return true;
  })()
    .catch(() => false)
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

// A write carries an Idempotency-Key, the same on every try: a retry after no answer (the network) or a 503
// is then harmless. The server keeps the first answer and gives it again.
const WRITE_TRIES = 3;

function newKey() {
  // crypto.randomUUID() needs a secure context; the board may be served over plain HTTP on a cafe's network.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

async function send(path, options, write) {
  for (let attempt = 1; ; attempt++) {
    let response;
    try {
      response = await fetch(path, options);
    } catch (error) {
      if (!write || attempt >= WRITE_TRIES) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000 * attempt));
      continue;
    }
    if (!write || response.status !== 503 || attempt >= WRITE_TRIES) return response;
    const wait = Math.min(Number(response.headers.get("Retry-After")) || 1, 5);
    await new Promise((resolve) => setTimeout(resolve, wait * 1000));
  }
}

async function api(path, { method = "GET", body, auth = true } = {}) {
  const write = method !== "GET";
  const key = write ? newKey() : null;
  for (let attempt = 0; ; attempt++) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && session.csrfToken()) headers["X-CSRF-Token"] = session.csrfToken();
    if (key) headers["Idempotency-Key"] = key;
    const response = await send(
      path,
      {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        ...SAME_ORIGIN,
      },
      write,
    );
    noteServerClock(response);
    if (response.status === 401 && auth) {
      if (attempt === 0 && (await refreshTokens())) continue;
      throw new SignedOut("Your session has ended: sign in again.");
    }
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, data?.detail);
    return data;
  }
}

// ---------------------------------------------------------------------------------------------------
// One cafe feed: a fresh ticket per connect, resume from the last event_id seen, reconnect forever.
// Some networks (hotel Wi-Fi, a few proxies and carriers) break WebSocket upgrades: after two sockets that
// never opened, the feed follows the same URL as server-sent events (EventSource), and back again after
// two streams that never opened.

const OPEN_ATTEMPTS = 2;
// An EventSource hears only the event types it listens for: the feed's messages, as /asyncapi.json names them.
const STREAM_TYPES = [
  "connection_established",
  "resync_required",
  "order_created",
  "order_updated",
  "order_deleted",
  "table_status_changed",
  "table_created",
  "table_updated",
  "kitchen_task_ready",
  "kitchen_task_created",
  "kitchen_task_updated",
  "kitchen_task_late",
  "kitchen_screen_offline",
  "kitchen_screen_online",
];
let described = null;

async function streamTypes(feed) {
  described ??= fetch("/asyncapi.json")
    .then((response) => (response.ok ? response.json() : null))
    .catch(() => null);
  const doc = await described;
  const channel = doc?.channels?.[`cafe-${feed}`];
  if (!channel) return STREAM_TYPES;
  return Object.keys(channel.messages)
    .map((key) => doc.components.messages[key]?.name)
    .filter(Boolean);
}

class Feed {
  constructor(name, board) {
    this.name = name;
    this.board = board;
    this.lastEventId = null;
    this.socket = null;
    this.source = null;
    this.transport = "websocket";
    this.unopened = 0;
    this.failures = 0;
    this.stopped = false;
    this.timers = [];
  }

  async connect() {
    this.setState("connecting");
    const types = this.transport === "events" ? await streamTypes(this.name) : null;
    let ticket;
    try {
      ({ ticket } = await api("/api/auth/ws-ticket", { method: "POST" }));
    } catch (error) {
      if (error instanceof SignedOut) return this.board.signOut(error.message);
      return this.retryLater();
    }
    if (this.stopped) return;
    const query = new URLSearchParams({ ticket });
    if (this.board.branchQuery) query.set("branch_id", this.board.branchQuery);
    if (this.name === "kitchen" && STATION) query.set("station", STATION);
    if (this.lastEventId !== null) query.set("last_event_id", String(this.lastEventId));
    if (types) this.openStream(query, types);
    else this.openSocket(query);
  }

  openSocket(query) {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/cafe/${this.name}/?${query}`);
    this.socket = socket;
    let opened = false;
    let established = false;
    socket.addEventListener("open", () => {
      opened = true;
      this.unopened = 0;
    });
    socket.addEventListener("message", (message) => {
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      if (frame.type === "connection_established") {
        established = true;
        this.keepAlive(socket);
      }
      this.receive(frame);
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.clearTimers();
      if (this.stopped) return;
      if (!opened) this.couldNotOpen();
      // 4003: the token behind the ticket is no longer good; the next ticket request refreshes it or signs out.
      if (event.code === 4003 && !established) this.failures += 2;
      this.retryLater();
    });
  }

  // Read-only, and its pings are comments the page never sees: the server ends a stream where it would close
  // a socket. EventSource would reconnect by itself with the spent ticket; the feed reconnects with a new one.
  openStream(query, types) {
    const source = new EventSource(`/ws/cafe/${this.name}/?${query}`);
    this.source = source;
    let established = false;
    const listener = (message) => {
      let frame;
      try {
        frame = JSON.parse(message.data);
      } catch {
        return;
      }
      if (frame.type === "connection_established") {
        established = true;
        this.unopened = 0;
      }
      this.receive(frame);
    };
    for (const type of new Set(["message", ...types])) source.addEventListener(type, listener);
    source.addEventListener("error", () => {
      if (this.source !== source) return;
      source.close();
      this.source = null;
      this.clearTimers();
      if (this.stopped) return;
      if (!established) this.couldNotOpen();
      this.retryLater();
    });
  }

  couldNotOpen() {
    this.unopened += 1;
    if (this.unopened >= OPEN_ATTEMPTS) {
      this.transport = this.transport === "websocket" ? "events" : "websocket";
      this.unopened = 0;
    }
  }

  // A frame from either transport: the greeting, a pong, a resync, or an event of this feed.
  receive(frame) {
    if (frame.type === "connection_established") {
      this.failures = 0;
      this.setState("live");
      // Without a position to resume from, what happened while we were away is only in REST.
      if (this.lastEventId === null) this.board.resync(this);
      return;
    }
    if (frame.type === "pong") {
      clearTimeout(this.pongTimer);
      return;
    }
    if (frame.type === "resync_required") {
      this.board.resync(this);
      return;
    }
    if (typeof frame.event_id === "number") this.lastEventId = frame.event_id;
    this.board.receive(this, frame);
  }

  keepAlive(socket) {
    this.clearTimers();
    this.timers.push(
      setInterval(() => {
        clearTimeout(this.pongTimer);
        this.pongTimer = setTimeout(() => this.abandon(socket), PONG_WITHIN_MS);
        this.send({ action: "ping" });
      }, PING_EVERY_MS),
    );
  }

  // A connection that died without a close may take minutes to report it: do not wait for its close event.
  abandon(socket) {
    if (this.socket !== socket) return;
    this.socket = null;
    this.clearTimers();
    socket.close(4000, "no answer to ping");
    this.retryLater();
  }

  send(frame) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  retryLater() {
    if (this.stopped) return;
    this.setState("offline");
    this.failures += 1;
    const delay = Math.min(RETRY_MAX_MS, 500 * 2 ** Math.min(this.failures, 5) * (0.75 + Math.random() / 2));
    this.timers.push(setTimeout(() => this.connect(), delay));
  }

  clearTimers() {
    for (const timer of this.timers) {
      clearTimeout(timer);
      clearInterval(timer);
    }
    this.timers = [];
    clearTimeout(this.pongTimer);
  }

  stop() {
    this.stopped = true;
    this.clearTimers();
    this.socket?.close(1000, "board closed");
    this.socket = null;
    this.source?.close();
    this.source = null;
  }

  setState(state) {
    this.state = state;
    this.board.feedStateChanged();
  }
}

// ---------------------------------------------------------------------------------------------------
// The board of one branch.

class Board {
  constructor(user, branch) {
    this.user = user;
    this.branch = branch;
    this.branchQuery = COMPANY_WIDE.includes(user.role) ? branch.id : null;
    this.zones = new Map();
    this.tables = new Map();
    this.orders = new Map();
    this.tasks = new Map();
    // Kitchen screens the server announced offline: station ("" for the all-stations screen) -> since.
    this.offlineScreens = new Map();
    // The last portions bumped from this board's queue, newest first, for a recall.
    this.served = [];
    this.canCook = KITCHEN_ROLES.includes(user.role);
    // Events that arrive while a feed's part is refetched wait here, then apply on top of the snapshot.
    this.held = new Map();
    this.feeds = FEEDS.map((name) => new Feed(name, this));
    this.renderQueued = false;
    this.ticker = setInterval(() => this.tick(), 1000);
  }

  start() {
    for (const feed of this.feeds) feed.connect();
    this.render();
  }

  stop() {
    clearInterval(this.ticker);
    clearTimeout(this.bannerTimer);
    for (const feed of this.feeds) feed.stop();
  }

  async tokenRefreshed() {
    // With SOCKET_TOKEN_EXPIRY=close the server closes a socket at its token's expiry unless told this: the
    // page holds no token, so each socket gets a fresh ticket, which stands for the new access cookie.
    for (const feed of this.feeds) {
      if (!feed.socket) continue;
      try {
        const { ticket } = await api("/api/auth/ws-ticket", { method: "POST" });
        feed.send({ action: "refresh_token", ticket });
      } catch {
        // The socket closes at expiry (4003) and reconnects with a ticket of its own.
      }
    }
  }

  withBranch(path) {
    if (!this.branchQuery) return path;
    return `${path}${path.includes("?") ? "&" : "?"}branch_id=${encodeURIComponent(this.branchQuery)}`;
  }

  async resync(feed) {
    if (this.held.has(feed.name)) return;
    this.held.set(feed.name, []);
    try {
      for (;;) {
        try {
          await this.refetch(feed.name);
          break;
        } catch (error) {
          if (error instanceof SignedOut) return this.signOut(error.message);
          await new Promise((resolve) => setTimeout(resolve, 2000));
          if (feed.stopped) return;
        }
      }
      for (const frame of this.held.get(feed.name)) this.apply(feed.name, frame);
    } finally {
      this.held.delete(feed.name);
      this.queueRender();
    }
  }

  async refetch(name) {
    if (name === "tables") {
      const [zones, tables] = await Promise.all([
        api(this.withBranch("/api/cafe/zones/")),
        api(this.withBranch("/api/cafe/tables/")),
      ]);
      this.zones = new Map(zones.map((zone) => [zone.id, zone]));
      this.tables = new Map(tables.map((table) => [table.id, table]));
    } else if (name === "orders") {
      const screensPath = this.branchQuery ? `/api/cafe/screens/?branch=${encodeURIComponent(this.branchQuery)}` : "/api/cafe/screens/";
      const [screens, ...lists] = await Promise.all([
        api(screensPath),
        ...OPEN_ORDER_STATUSES.map((status) => api(this.withBranch(`/api/cafe/orders/?status=${status}`))),
      ]);
      this.orders = new Map(lists.flat().map((order) => [order.id, order]));
      // The orders feed carries the screens' offline/online events: what it missed is in the listing.
      this.offlineScreens = new Map(
        screens
          .filter((screen) => screen.feed === "kitchen" && screen.sockets === 0)
          .map((screen) => [screen.station || "", screen.since]),
      );
    } else {
      const station = STATION ? `&station=${STATION}` : "";
      const lists = await Promise.all(
        QUEUE_STATUSES.map((status) => api(this.withBranch(`/api/cafe/kitchen/tasks/?status=${status}${station}`))),
      );
      this.tasks = new Map(lists.flat().map((task) => [task.id, task]));
    }
  }

  receive(feed, frame) {
    const held = this.held.get(feed.name);
    if (held) held.push(frame);
    else {
      this.apply(feed.name, frame);
      this.queueRender();
    }
  }

  apply(feedName, frame) {
    const data = frame.data || {};
    if (data.branch_id && data.branch_id !== this.branch.id) return;
    if (feedName === "tables") {
      if (frame.type === "table_status_changed") {
        this.tables.set(data.table_id, { ...this.tables.get(data.table_id), ...data.table, status: data.status });
        this.flash(`[data-table-id="${data.table_id}"]`);
      } else if ((frame.type === "table_created" || frame.type === "table_updated") && data.table) {
        this.tables.set(data.table.id, data.table);
      }
    } else if (feedName === "orders") {
      if ((frame.type === "order_created" || frame.type === "order_updated") && data.order) {
        if (OPEN_ORDER_STATUSES.includes(data.order.status)) this.orders.set(data.order.id, data.order);
        else this.forgetOrder(data.order.id);
      } else if (frame.type === "order_deleted") {
        this.forgetOrder(data.order_id);
      } else if (frame.type === "kitchen_screen_offline") {
        this.offlineScreens.set(data.station || "", data.since);
      } else if (frame.type === "kitchen_screen_online") {
        this.offlineScreens.delete(data.station || "");
      }
    } else if (frame.type?.startsWith("kitchen_task_") && data.task) {
      const task = data.task;
      if (STATION && task.station !== STATION) return;
      this.served = this.served.filter((kept) => kept.id !== task.id);
      if (QUEUE_STATUSES.includes(task.status)) this.tasks.set(task.id, task);
      else this.tasks.delete(task.id);
      if (task.status === "served") this.served = [task, ...this.served].slice(0, SERVED_KEPT);
    }
  }

  forgetOrder(orderId) {
    this.orders.delete(orderId);
    for (const [id, task] of this.tasks) if (task.order === orderId) this.tasks.delete(id);
    this.served = this.served.filter((task) => task.order !== orderId);
  }

  // A cook's button: the change comes back on the kitchen feed, which redraws the portion.
  async act(button, task, action) {
    button.disabled = true;
    try {
      await api(`/api/cafe/kitchen/tasks/${task.id}/${action}/`, { method: "POST" });
    } catch (error) {
      if (error instanceof SignedOut) return this.signOut(error.message);
      showNotice(`Could not ${action === "served" ? "bump" : action} ${task.menu_item_title}: ${error.message}`);
      button.disabled = false;
    }
  }

  // ------------------------------------------------------------------------------------------------
  // Drawing: whole panels at most once a frame; the lists are a branch's worth, a few hundred at most.

  queueRender() {
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      this.render();
    });
  }

  render() {
    this.renderAlarms();
    this.renderFloor();
    this.renderOrders();
    this.renderKitchen();
    this.tick();
    fitLists();
  }

  renderAlarms() {
    const stations = [...this.offlineScreens].sort(([a], [b]) => byStation(a, b));
    $("alarms").replaceChildren(
      ...stations.map(([station, since]) =>
        h(
          "p",
          { class: "alarm", "data-station": station || "all" },
          h("strong", {}, `${stationName(station)}: no screen`),
          since ? ` since ${new Date(Date.parse(since)).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}` : "",
        ),
      ),
    );
  }

  ordersByTable() {
    const byTable = new Map();
    for (const order of this.orders.values()) {
      if (order.table) byTable.set(order.table, [...(byTable.get(order.table) || []), order]);
    }
    return byTable;
  }

  renderFloor() {
    const byTable = this.ordersByTable();
    const groups = new Map();
    const tables = [...this.tables.values()].sort((a, b) => a.number - b.number);
    for (const table of tables) {
      const zone = this.zones.get(table.zone)?.title || (table.zone ? "Zone" : "Floor");
      groups.set(zone, [...(groups.get(zone) || []), table]);
    }
    const busy = tables.filter((table) => table.status === "busy").length;
    $("floor-count").textContent = tables.length ? `${busy} busy · ${tables.length - busy} free` : "";
    $("floor").replaceChildren(
      ...[...groups].map(([zone, zoneTables]) =>
        h(
          "div",
          { class: "zone" },
          groups.size > 1 || zone !== "Floor" ? h("h3", {}, zone) : null,
          h(
            "div",
            { class: "tables" },
            zoneTables.map((table) => {
              const orders = byTable.get(table.id) || [];
              const since = orders.length ? Math.min(...orders.map((order) => Date.parse(order.created_at))) : null;
              return h(
                "div",
                { class: `table ${table.status === "busy" ? "busy" : "free"}`, "data-table-id": table.id },
                h("div", { class: "number" }, String(table.number)),
                h("div", { class: "places" }, `${table.places} seats`),
                h("div", { class: "state" }, table.status === "busy" ? "busy" : "free"),
                orders.length
                  ? h(
                      "div",
                      { class: "table-orders" },
                      orders.map((order) => `#${order.number}`).join(" "),
                      " · ",
                      h("span", { class: "elapsed", "data-since": since }),
                    )
                  : null,
              );
            }),
          ),
        ),
      ),
    );
    if (!tables.length) $("floor").replaceChildren(h("p", { class: "empty" }, "No tables in this branch yet."));
  }

  renderOrders() {
    const orders = [...this.orders.values()].sort((a, b) => a.created_at.localeCompare(b.created_at));
    const portions = new Map();
    for (const task of this.tasks.values()) {
      const count = portions.get(task.order) || { ready: 0, all: 0 };
      count.all += 1;
      if (task.status === "ready") count.ready += 1;
      portions.set(task.order, count);
    }
    $("orders-count").textContent = orders.length ? String(orders.length) : "";
    $("orders").replaceChildren(
      ...orders.map((order) => {
        const count = portions.get(order.id);
        return h(
          "li",
          { class: `order status-${order.status}`, "data-order-id": order.id, "data-status": order.status },
          h(
            "div",
            { class: "order-head" },
            h("span", { class: "order-number" }, `#${order.number}`),
            h("span", { class: "order-table" }, order.table_number ? `table ${order.table_number}` : "takeaway"),
            h("span", { class: "pill" }, order.status),
          ),
          h(
            "div",
            { class: "order-items" },
            order.items.map((item) => `${item.quantity}× ${item.menu_item_title}`).join(", ") || "no items yet",
          ),
          h(
            "div",
            { class: "order-foot" },
            h("span", {}, `${order.guests} guest${order.guests === 1 ? "" : "s"}`),
            count ? h("span", {}, `${count.ready}/${count.all} ready`) : null,
            h("span", {}, order.total_amount),
            h("span", { class: "elapsed", "data-since": Date.parse(order.created_at) }),
          ),
        );
      }),
    );
    if (!orders.length) $("orders").replaceChildren(h("li", { class: "empty" }, "No open orders."));
  }

  renderKitchen() {
    // A portion shows while its order is open: ready ones of served orders stay in REST, not on the wall.
    const tasks = [...this.tasks.values()].filter((task) => this.orders.has(task.order));
    const byAge = (a, b) => a.created_at.localeCompare(b.created_at) || a.unit_index - b.unit_index;
    const stations = new Map();
    for (const task of tasks.sort(byAge)) {
      const station = task.station || "kitchen";
      stations.set(station, [...(stations.get(station) || []), task]);
    }
    if (STATION && !stations.has(STATION)) stations.set(STATION, []);
    const queued = tasks.filter((task) => task.status !== "ready").length;
    $("kitchen-name").textContent = STATION ? stationName(STATION) : "Kitchen";
    $("kitchen-count").textContent = queued ? `${queued} in queue` : "";
    const columns = [...stations].sort(([a], [b]) => byStation(a, b));
    $("tasks").replaceChildren(
      ...columns.map(([station, portions]) => {
        const queue = portions.filter((task) => task.status !== "ready");
        const ready = portions.filter((task) => task.status === "ready");
        return h(
          "section",
          { class: "station", "data-station": station, "aria-label": stationName(station) },
          STATION ? null : h("h3", {}, stationName(station), " ", h("span", { class: "count" }, `${queue.length}`)),
          h(
            "ul",
            { class: "tasks clip queue" },
            queue.length ? queue.map((task) => this.taskRow(task)) : h("li", { class: "empty" }, "Nothing to cook."),
          ),
          ready.length ? h("h4", {}, "Ready to serve") : null,
          ready.length ? h("ul", { class: "tasks clip ready-list" }, ready.map((task) => this.taskRow(task))) : null,
        );
      }),
    );
    if (!columns.length) $("tasks").replaceChildren(h("p", { class: "empty" }, "Nothing to cook."));
    const served = this.canCook ? this.served.filter((task) => this.orders.has(task.order)) : [];
    $("served").hidden = !served.length;
    $("served-tasks").replaceChildren(...served.map((task) => this.taskRow(task)));
  }

  taskRow(task) {
    const late = Boolean(task.late_at);
    const buttons = [];
    if (this.canCook) {
      const button = (action, text, label) =>
        h(
          "button",
          {
            type: "button",
            class: `act act-${action}`,
            "data-action": action,
            "aria-label": `${label} ${task.menu_item_title}${task.table_number ? `, table ${task.table_number}` : ""}`,
            onclick: (event) => this.act(event.currentTarget, task, action),
          },
          text,
        );
      if (task.status === "pending" || task.status === "in_progress") buttons.push(button("ready", "Ready", "Ready:"));
      if (task.status === "ready") buttons.push(button("served", "Bump", "Served:"));
      if (task.status === "ready" || task.status === "served") buttons.push(button("recall", "Recall", "Recall"));
    }
    return h(
      "li",
      {
        class: `task ${task.status}${late ? " late" : ""}`,
        "data-task-id": task.id,
        "data-status": task.status,
        "data-station": task.station,
        "data-late": late ? "server" : null,
      },
      h("span", { class: "task-title" }, task.menu_item_title),
      h("span", { class: "task-table" }, task.table_number ? `table ${task.table_number}` : "takeaway"),
      h("span", { class: "task-status" }, late && task.status !== "ready" ? "late" : TASK_STATUS_TEXT[task.status] || task.status),
      h("span", {
        class: "waited",
        "data-since": Date.parse(task.created_at),
        "data-until": task.ready_at ? Date.parse(task.ready_at) : task.served_at ? Date.parse(task.served_at) : null,
        "data-due": task.due_at ? Date.parse(task.due_at) : null,
      }),
      buttons.length ? h("span", { class: "task-actions" }, buttons) : null,
    );
  }

  // Once a second: the clock and every waiting time; nothing is fetched.
  tick() {
    const now = serverNow();
    for (const element of document.querySelectorAll("[data-since]")) {
      const until = Number(element.dataset.until) || now;
      const waited = Math.max(0, until - Number(element.dataset.since));
      element.textContent = formatDuration(waited);
      if (element.classList.contains("waited")) {
        // Late by the server's word (kitchen_task_late), by its due time, or by the board's own limit.
        const task = element.closest(".task");
        const due = Number(element.dataset.due);
        const overdue = !element.dataset.until && (waited > LATE_AFTER_MS || (due > 0 && now > due));
        task.classList.toggle("late", task.dataset.late === "server" || overdue);
      }
    }
  }

  flash(selector) {
    requestAnimationFrame(() => document.querySelector(selector)?.animate?.(
      [{ transform: "scale(1.06)" }, { transform: "scale(1)" }],
      { duration: 400 },
    ));
  }

  feedStateChanged() {
    for (const feed of this.feeds || []) {
      document.querySelector(`.feed[data-feed="${feed.name}"]`)?.setAttribute("data-state", feed.state || "");
    }
    const down = (this.feeds || []).some((feed) => feed.state !== "live");
    if (!down) {
      clearTimeout(this.bannerTimer);
      this.bannerTimer = null;
      $("banner").hidden = true;
      $("board-view").classList.remove("stale");
    } else if (!this.bannerTimer) {
      // A short blip is not worth a banner on the wall.
      this.bannerTimer = setTimeout(() => showBanner("Connection lost: reconnecting…"), 3000);
    }
  }

  signOut(message) {
    signOut(message);
  }
}

// Where a list has more portions or orders than its panel shows, the last visible one says how many more.
function fitLists() {
  for (const list of document.querySelectorAll("ul.clip")) {
    list.querySelector(":scope > .more")?.remove();
    const items = [...list.children];
    for (const item of items) item.hidden = false;
    if (list.scrollHeight <= list.clientHeight + 1) continue;
    const more = h("li", { class: "more" });
    list.append(more);
    let hidden = 0;
    for (let index = items.length - 1; index > 0 && list.scrollHeight > list.clientHeight + 1; index--) {
      items[index].hidden = true;
      hidden += 1;
      more.textContent = `+${hidden} more`;
    }
    if (!hidden) more.remove();
  }
}

addEventListener("resize", () => requestAnimationFrame(fitLists));

function showNotice(text) {
  $("banner").textContent = text;
  $("banner").hidden = false;
  clearTimeout(showNotice.timer);
  showNotice.timer = setTimeout(() => {
    if ($("banner").textContent === text) $("banner").hidden = true;
  }, 4000);
}

function formatDuration(ms) {
  const seconds = Math.floor(ms / 1000);
  const minutes = Math.floor(seconds / 60);
  if (minutes >= 60) return `${Math.floor(minutes / 60)}h ${String(minutes % 60).padStart(2, "0")}m`;
  return `${minutes}:${String(seconds % 60).padStart(2, "0")}`;
}

// While the feeds are down what the wall shows may be old: it says so and dims.
function showBanner(text) {
  $("banner").textContent = text;
  $("banner").hidden = false;
  $("board-view").classList.add("stale");
}

// ---------------------------------------------------------------------------------------------------
// Views: sign in, pick a branch, the board.

let board = null;

function show(view) {
  for (const id of ["login-view", "branch-view", "board-view"]) $(id).hidden = id !== view;
  $("feeds").hidden = view !== "board-view";
  $("sign-out").hidden = view === "login-view";
}

function signOut(message = "") {
  board?.stop();
  board = null;
  session.clear();
  $("where").textContent = "";
  $("switch-branch").hidden = true;
  $("login-error").textContent = message;
  show("login-view");
  document.querySelector("#login-form input[name=email]").focus();
}

async function start() {
  let user;
  let branches;
  try {
    [user, branches] = await Promise.all([api("/api/users/me/"), api("/api/branches/")]);
  } catch (error) {
    return signOut(error instanceof SignedOut ? error.message : `The service did not answer: ${error.message}`);
  }
  // The cafe feeds refuse customer accounts (4003): say so rather than reconnect forever.
  if (user.role === "client") return signOut("The board is for staff accounts.");
  const companyWide = COMPANY_WIDE.includes(user.role);
  if (!companyWide && !user.branch) return signOut("This account has no branch to show.");
  const chosen = companyWide ? branches.find((branch) => branch.id === session.branchId) : null;
  if (companyWide && !chosen && branches.length !== 1) return pickBranch(user, branches);
  const branch = companyWide
    ? chosen || branches[0]
    : branches.find((branch) => branch.id === user.branch) || { id: user.branch, name: "" };
  openBoard(user, branch, companyWide && branches.length > 1);
}

function pickBranch(user, branches) {
  show("branch-view");
  $("branch-list").replaceChildren(
    ...branches.map((branch) =>
      h(
        "li",
        {},
        h(
          "button",
          {
            type: "button",
            "data-branch-id": branch.id,
            onclick: () => {
              session.branchId = branch.id;
              session.save();
              openBoard(user, branch, true);
            },
          },
          branch.name,
        ),
      ),
    ),
  );
  if (!branches.length) $("branch-list").replaceChildren(h("li", { class: "empty" }, "The company has no branch yet."));
}

function openBoard(user, branch, canSwitch) {
  board?.stop();
  $("board-title").textContent = `${STATION ? stationName(STATION) : "Live board"}${branch.name ? ` · ${branch.name}` : ""}`;
  if (STATION) $("board-view").dataset.station = STATION;
  $("where").replaceChildren(
    h("strong", {}, branch.name || "Your branch"),
    h("span", { class: "muted" }, ` · ${user.email} (${user.role})`),
  );
  $("switch-branch").hidden = !canSwitch;
  show("board-view");
  board = new Board(user, branch);
  board.start();
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const button = form.querySelector("button");
  $("login-error").textContent = "";
  button.disabled = true;
  try {
    // The answer carries the tokens too (for apps); the board keeps none of them, only the cookies count.
    await api("/api/users/login/", {
      method: "POST",
      auth: false,
      body: { email: form.email.value.trim(), password: form.password.value },
    });
    form.password.value = "";
    await start();
  } catch (error) {
    $("login-error").textContent =
      error.status === 429
        ? "Too many attempts: wait a few minutes."
        : error.status === 400 || error.status === 401
          ? "Wrong email or password."
          : `Could not sign in: ${error.message}`;
  } finally {
    button.disabled = false;
  }
});

$("sign-out").addEventListener("click", async () => {
  // The cookies are HttpOnly: only the server can drop them. This ends the user's sessions everywhere.
  await fetch("/api/auth/logout", {
    method: "POST",
    headers: { "X-CSRF-Token": session.csrfToken() || "" },
    ...SAME_ORIGIN,
  }).catch(() => null);
  signOut();
});
$("switch-branch").addEventListener("click", async () => {
  board?.stop();
  board = null;
  session.branchId = null;
  session.save();
  await start();
});

setInterval(() => {
  $("clock").textContent = new Date(serverNow()).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}, 1000);

session.load();
if (session.csrfToken()) start();
else show("login-view");
