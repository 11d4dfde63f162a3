// The operator's dashboard: every value goes through textContent (never
// innerHTML); the token stays in this tab's sessionStorage.
"use strict";
(function () {
  var $ = function (id) { return document.getElementById(id); };
  var token = sessionStorage.getItem("blissnode-token") || "";

  function say(text, bad) {
    $("message").textContent = text;
    $("message").className = bad ? "bad" : "good";
  }

  function api(method, path, body) {
    var options = {method: method, headers: {"Authorization": "Bearer " + token}};
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(path, options).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) { throw new Error(data.error || response.statusText); }
        return data;
      });
    });
  }

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    row.appendChild(td);
    return td;
  }

  function button(parent, label, id, action) {
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.id = id;
    b.addEventListener("click", action);
    parent.appendChild(b);
  }

  function fill(id, rows, render) {
    var body = $(id);
    while (body.firstChild) { body.removeChild(body.firstChild); }
    rows.forEach(function (item) {
      var tr = document.createElement("tr");
      render(tr, item);
      body.appendChild(tr);
    });
  }

  function act(promise, done) {
    return promise.then(function () { say(done, false); return refresh(); })
      .catch(function (e) { say(e.message, true); });
  }

  function refresh() {
    return Promise.all([
      api("GET", "/api/status"), api("GET", "/api/sessions"),
      api("GET", "/api/accounts"), api("GET", "/api/queues")
    ]).then(function (all) {
      var status = all[0];
      $("panel").hidden = false;
      $("login").hidden = true;
      fill("status", [
        ["Uptime (s)", Math.round(status.uptime_seconds)],
        ["Users online", status.users_online],
        ["Sessions", Object.keys(status.sessions).map(function (r) {
          return r + " " + status.sessions[r]; }).join(", ")],
        ["Sessions started per minute", Object.keys(status.sessions_started_per_minute)
          .map(function (r) { return r + " " + status.sessions_started_per_minute[r]; })
          .join(", ")],
        ["Per version", status.sessions_per_version.map(function (v) {
          return v.role + " " + v.version + ": " + v.count; }).join(", ") || "-"]
      ], function (tr, pair) {
        var th = document.createElement("th");
        th.textContent = pair[0];
        tr.appendChild(th);
        cell(tr, pair[1]).id = "status-" + pair[0].toLowerCase().replace(/[^a-z]+/g, "-");
      });
      $("registration-state").textContent = status.registration_open ? "open" : "closed";
      fill("sessions", all[1].sessions, function (tr, s) {
        cell(tr, s.session_id); cell(tr, s.role); cell(tr, s.users.join(", "));
        cell(tr, s.peer); cell(tr, s.version);
        cell(tr, s.since ? new Date(s.since * 1000).toISOString() : "");
        button(cell(tr, ""), "Kick", "kick-" + s.session_id, function () {
          act(api("DELETE", "/api/sessions/" + encodeURIComponent(s.session_id)),
              "ended " + s.session_id);
        });
      });
      fill("accounts", all[2].accounts, function (tr, a) {
        cell(tr, a.name).className = "account-name";
        cell(tr, a.created);
        cell(tr, a.suspended ? "yes" : "no").id = "suspended-" + a.name;
        var actions = cell(tr, "");
        var path = "/api/accounts/" + encodeURIComponent(a.name);
        if (a.suspended) {
          button(actions, "Unsuspend", "unsuspend-" + a.name, function () {
            act(api("POST", path + "/unsuspend"), a.name + " may sign in again");
          });
        } else {
          button(actions, "Suspend", "suspend-" + a.name, function () {
            act(api("POST", path + "/suspend", {reason: "suspended on the web page"}),
                "suspended " + a.name);
          });
        }
        button(actions, "New password", "passwd-" + a.name, function () {
          var password = window.prompt("New password for " + a.name);
          if (password) {
            act(api("POST", path + "/password", {password: password}),
                "password changed for " + a.name);
          }
        });
        button(actions, "Delete", "delete-" + a.name, function () {
          if (window.confirm("Delete " + a.name + " and everything it owns?")) {
            act(api("DELETE", path), "deleted " + a.name);
          }
        });
      });
      fill("queues", all[3].queues, function (tr, q) {
        cell(tr, q.recipient); cell(tr, q.messages); cell(tr, q.bytes);
      });
    });
  }

  $("login").addEventListener("submit", function (event) {
    event.preventDefault();
    token = $("token").value.trim();
    refresh().then(function () {
      sessionStorage.setItem("blissnode-token", token);
      say("", false);
    }).catch(function (e) { say(e.message, true); });
  });
  $("refresh").addEventListener("click", function () {
    refresh().catch(function (e) { say(e.message, true); });
  });
  $("logout").addEventListener("click", function () {
    sessionStorage.removeItem("blissnode-token");
    token = "";
    $("panel").hidden = true;
    $("login").hidden = false;
  });
  $("registration-toggle").addEventListener("click", function () {
    var open = $("registration-state").textContent !== "open";
    act(api("PUT", "/api/registration", {open: open}),
        "client sign-up " + (open ? "opened" : "closed"));
  });
  $("create").addEventListener("submit", function (event) {
    event.preventDefault();
    var name = $("create-name").value.trim();
    act(api("POST", "/api/accounts", {name: name, password: $("create-password").value}),
        "created " + name).then(function () { $("create-password").value = ""; });
  });
  if (token) { refresh().catch(function (e) { say(e.message, true); }); }
}());
