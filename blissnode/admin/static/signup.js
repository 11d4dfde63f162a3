// The public sign-up form: posts JSON to /api/signup and shows the answer.
"use strict";
(function () {
  var form = document.getElementById("signup");
  var result = document.getElementById("signup-result");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var body = {name: document.getElementById("signup-name").value.trim(),
                password: document.getElementById("signup-password").value};
    fetch("/api/signup", {method: "POST", headers: {"Content-Type": "application/json"},
                          body: JSON.stringify(body)})
      .then(function (response) {
        return response.json().then(function (data) {
          if (!response.ok) { throw new Error(data.error || response.statusText); }
          result.textContent = "Created the account " + data.name + ". You can sign in now.";
          result.className = "good";
        });
      })
      .catch(function (e) { result.textContent = e.message; result.className = "bad"; });
  });
}());
