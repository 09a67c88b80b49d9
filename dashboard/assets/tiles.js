// StoreLens live tiles: reads each camera's MJPEG stream with fetch() instead of an img.
//
// Why not an img element with the stream as its src: a removed img keeps its stream open
// (Chromium), so every visit of the Live page leaked connections until the ~6-per-host
// limit left new tiles blank; and an img cannot tell a frozen stream from a live one.
// Here each stream belongs to an AbortController that is aborted as soon as the tiles leave the page, every
// frame carries its capture time (X-Frame-Ts), a tile turns grey with "no new frame for
// N s" once frames stop, and a stalled or broken stream reconnects by itself.
//
// Tokens live at most a minute (issue 18, item 8): every options.renewMs the script trades
// its ticket for fresh tokens (POST options.renewUrl, same origin, with the session cookie)
// and, shortly before a stream's token expires, moves that stream to the new token without
// greying the tile (the tile server ends a stream when its token expires). A refused
// renewal (signed out, page closed elsewhere) stops renewing: the tiles end with their tokens.
//
// Called as StoreLensTiles(rootId, options) by the inline script that dashboard/tiles.py
// writes next to the tile markup. Never write a less-than sign directly before a letter,
// slash or "!" in this file: Streamlit's HTML sanitiser (DOMPurify) drops a script whose
// text looks like markup, and the tiles would silently stay blank.
(function (global) {
  "use strict";
  const CRLF2 = [13, 10, 13, 10];

  function indexOf(buf, pattern, from) {
    outer: for (let i = from || 0; i <= buf.length - pattern.length; i++) {
      for (let j = 0; j < pattern.length; j++) {
        if (buf[i + j] !== pattern[j]) continue outer;
      }
      return i;
    }
    return -1;
  }

  function concat(a, b) {
    if (!a.length) return b;
    const out = new Uint8Array(a.length + b.length);
    out.set(a, 0);
    out.set(b, a.length);
    return out;
  }

  function formatter(timeZone, zoneName) {
    // 24-hour clock with the zone name, like every other time on the page ("14:05:09 CET").
    // The page names the zone itself (zoneName, from the server's zone data): the browser's
    // short names differ ("GMT+1" where the alerts beside the tile say "CET").
    const opts = { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" };
    if (!zoneName) opts.timeZoneName = "short";
    let fmt;
    try {
      fmt = new Intl.DateTimeFormat(undefined, { ...opts, timeZone });
    } catch (e) {
      // Unknown zone name: the browser's own clock, and its own name for that zone.
      return new Intl.DateTimeFormat(undefined, { ...opts, timeZoneName: "short" });
    }
    return zoneName ? { format: (d) => fmt.format(d) + " " + zoneName } : fmt;
  }

  global.StoreLensTiles = function (rootId, options) {
    const root = document.getElementById(rootId);
    if (!root || root.dataset.started) return;
    root.dataset.started = "1";
    const staleMs = options.staleMs, reconnectMs = options.reconnectMs;
    const fmt = formatter(options.timeZone, options.zoneName);
    const decoder = new TextDecoder("latin1");
    const tiles = Array.from(root.querySelectorAll("[data-stream]")).map((el) => ({
      el,
      img: el.querySelector("img"),
      note: el.querySelector(".sl-note"),
      camera: el.dataset.camera,
      url: el.dataset.stream,
      openedUrl: null,
      handover: false,
      ctrl: null,
      openedAt: 0,
      lastFrameAt: 0, // performance.now() of the last frame received
      frameTs: null, // the frame's own capture time (epoch s)
      frames: 0,
      objectUrl: null,
      backoffMs: 500,
      nextTryAt: 0,
      broken: false, // the last stream ended: whatever is on screen is no longer live
      fatal: null,
    }));

    function show(t, jpeg, frameTs) {
      const url = URL.createObjectURL(new Blob([jpeg], { type: "image/jpeg" }));
      const previous = t.objectUrl;
      t.objectUrl = url;
      t.img.src = url;
      if (previous) URL.revokeObjectURL(previous);
      t.lastFrameAt = performance.now();
      t.frameTs = frameTs;
      t.frames += 1;
      t.backoffMs = 500;
      t.broken = false;
      if (frameTs !== null) {
        t.el.dataset.frameTs = String(frameTs);
        t.el.dataset.lagMs = String(Math.round(Date.now() - frameTs * 1000));
      }
      paint(t, t.lastFrameAt); // back to live at once, not at the next tick
      t.el.dataset.frames = String(t.frames); // last: a test that sees the count sees the state
    }

    // Epoch ms at which the token in a stream URL expires (token = expires.tag.mac).
    function expiresAt(url) {
      const m = /[?&]token=(\d+)\./.exec(url || "");
      return m ? Number(m[1]) * 1000 : Infinity;
    }

    let renewing = Boolean(options.renewUrl && options.ticket);
    let renewAt = performance.now() + options.renewMs;
    let renewBusy = false;

    async function renew() {
      renewBusy = true;
      try {
        const response = await fetch(options.renewUrl, {
          method: "POST",
          credentials: "same-origin",
          cache: "no-store",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ ticket: options.ticket }),
        });
        if (response.status === 403) {
          renewing = false; // signed out: the streams end with their tokens
          root.dataset.renewal = "refused";
          return;
        }
        if (!response.ok) throw new Error("HTTP " + response.status);
        const tokens = (await response.json()).tokens || {};
        for (const t of tiles) {
          const token = tokens[t.camera];
          if (token) t.url = t.url.replace(/([?&]token=)[^&]*/, "$1" + encodeURIComponent(token));
        }
        root.dataset.renewals = String(Number(root.dataset.renewals || 0) + 1);
        renewAt = performance.now() + options.renewMs;
      } catch (e) {
        // Dashboard briefly away: try again soon, but never hammer it.
        renewAt = performance.now() + Math.min(options.renewMs, 5000);
      } finally {
        renewBusy = false;
      }
    }

    async function pump(t, signal) {
      t.openedUrl = t.url;
      const response = await fetch(t.url, { signal, cache: "no-store" });
      if (response.status === 403) {
        if (renewing) {
          // Expired while the tab slept (timers are throttled in background tabs): fetch
          // fresh tokens now and reconnect with them.
          renewAt = 0;
          throw new Error("token expired");
        }
        t.fatal = "tile link expired: reload the page";
        return;
      }
      if (!response.ok || !response.body) throw new Error("HTTP " + response.status);
      const reader = response.body.getReader();
      let buf = new Uint8Array(0);
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buf = concat(buf, value);
        for (;;) {
          const end = indexOf(buf, CRLF2, 0);
          if (end < 0) break;
          const head = decoder.decode(buf.subarray(0, end));
          const length = /Content-Length:\s*(\d+)/i.exec(head);
          if (!length) {
            buf = buf.subarray(end + 4);
            continue;
          }
          const start = end + 4, stop = start + Number(length[1]);
          if (buf.length < stop) break;
          const ts = /X-Frame-Ts:\s*([0-9.]+)/i.exec(head);
          show(t, buf.slice(start, stop), ts ? Number(ts[1]) : null);
          buf = buf.subarray(stop);
        }
      }
    }

    function connect(t) {
      const ctrl = new AbortController();
      t.ctrl = ctrl;
      t.openedAt = performance.now();
      t.el.dataset.connects = String(Number(t.el.dataset.connects || 0) + 1);
      pump(t, ctrl.signal)
        .catch(() => {})
        .finally(() => {
          ctrl.abort(); // also closes a stream that ended without an error
          if (t.ctrl === ctrl) t.ctrl = null;
          if (t.handover) {
            // Moved to a renewed token on purpose: open the new stream at once, the
            // picture stays live.
            t.handover = false;
            t.nextTryAt = performance.now();
            return;
          }
          // A closed or reset stream (e.g. the pipeline was killed) cannot deliver another
          // frame: say so at once instead of waiting for the stale threshold.
          t.broken = true;
          paint(t, performance.now());
          t.nextTryAt = performance.now() + t.backoffMs;
          t.backoffMs = Math.min(t.backoffMs * 2, 5000);
        });
    }

    function stopAll() {
      clearInterval(timer);
      for (const t of tiles) {
        if (t.ctrl) t.ctrl.abort();
        t.ctrl = null;
        if (t.objectUrl) URL.revokeObjectURL(t.objectUrl);
      }
    }

    // Show what a tile is: live, stale (with how long and the last frame's own time),
    // waiting for a first frame, or unusable. Returns the age of its picture in ms.
    function paint(t, now) {
      const since = t.frames ? t.lastFrameAt : t.openedAt || now;
      const age = now - since;
      const stale = t.fatal !== null || t.broken || age > staleMs;
      const state = t.frames === 0 && !t.fatal ? (stale ? "waiting" : "connecting")
        : stale ? "stale" : "live";
      if (state === "stale" && t.el.dataset.state !== "stale") {
        t.el.dataset.staleAfterMs = String(Math.round(age)); // for tests and benchmarks
      }
      t.el.dataset.state = state;
      // The pipeline's own word on the camera (the Live page's status fragment keeps
      // data-camera-state current): an offline camera says so, with since when, instead
      // of "waiting for the camera…" or a bare "no new frame".
      const camera = t.el.dataset.cameraState;
      if (t.fatal) {
        t.note.textContent = t.fatal;
      } else if (stale && (camera === "offline" || camera === "reconnecting")) {
        const since = t.el.dataset.cameraSince ? " since " + t.el.dataset.cameraSince : "";
        const last = t.frames && t.frameTs !== null
          ? " · last frame " + fmt.format(new Date(t.frameTs * 1000)) : "";
        t.note.textContent = (camera === "offline" ? "camera offline" : "camera reconnecting…")
          + since + last;
      } else if (stale && t.frames) {
        const at = t.frameTs !== null ? fmt.format(new Date(t.frameTs * 1000)) : "?";
        const seconds = Math.floor(age / 1000);
        const retry = t.broken ? " · reconnecting…" : "";
        t.note.textContent = "no new frame for " + seconds + " s · last frame " + at + retry;
      } else if (stale) {
        t.note.textContent = "waiting for the camera…";
      } else {
        t.note.textContent = "";
      }
      return age;
    }

    function tick() {
      // Streamlit removes the markup when the user leaves the page (or the page reruns
      // with new tiles): close every stream at once so no connection outlives its tile.
      if (!root.isConnected) {
        stopAll();
        return;
      }
      const now = performance.now();
      if (renewing && !renewBusy && now >= renewAt) renew();
      for (const t of tiles) {
        const age = paint(t, now);
        if (t.fatal) continue;
        // The stream's token expires within 3 s and a renewed one is here: switch now.
        const left = expiresAt(t.openedUrl) - Date.now();
        if (t.ctrl && !t.handover && t.url !== t.openedUrl && left <= 3000) {
          t.handover = true;
          t.ctrl.abort();
        }
        // A stream that delivers nothing for a while is dropped and opened again: after a
        // pipeline restart the old connection is dead but may never report an error.
        if (t.ctrl && age > reconnectMs && now - t.openedAt > reconnectMs) t.ctrl.abort();
        if (!t.ctrl && now >= t.nextTryAt) connect(t);
      }
    }

    const timer = setInterval(tick, options.tickMs);
    global.addEventListener("pagehide", stopAll, { once: true });
    tick();
  };
})(window);
