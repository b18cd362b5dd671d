// Progressive enhancement only: every rule here is checked again by the API.
(function () {
  "use strict";
  // A ticket's due date may not be after the event's internal commitment date.
  document.querySelectorAll("form[data-due-limit]").forEach(function (form) {
    var limit = form.getAttribute("data-due-limit");
    var input = form.querySelector("input[name=due_date]");
    var hint = form.querySelector("#due-hint");
    function check() {
      var bad = input.value && input.value > limit;
      input.setCustomValidity(bad ? "La fecha límite no puede ser posterior al compromiso interno del evento." : "");
      input.setAttribute("aria-invalid", bad ? "true" : "false");
      if (hint) { hint.classList.toggle("invalid", !!bad); }
    }
    input.addEventListener("input", check);
    form.addEventListener("submit", function (e) { check(); if (!form.checkValidity()) { e.preventDefault(); form.reportValidity(); } });
  });
  // An event's internal date must come before the client date.
  document.querySelectorAll("form[data-check-dates]").forEach(function (form) {
    var internal = form.querySelector("input[name=internal_commitment_date]");
    var client = form.querySelector("input[name=client_commitment_date]");
    function check() {
      var bad = internal.value && client.value && internal.value >= client.value;
      internal.setCustomValidity(bad ? "La fecha interna debe ser anterior a la fecha comprometida con el cliente." : "");
    }
    internal.addEventListener("input", check);
    client.addEventListener("input", check);
  });
  // PDFs over the limit are refused before the upload.
  document.querySelectorAll("input[type=file][data-max-bytes]").forEach(function (input) {
    var max = parseInt(input.getAttribute("data-max-bytes"), 10);
    input.addEventListener("change", function () {
      var big = Array.prototype.filter.call(input.files, function (f) { return f.size > max; });
      input.setCustomValidity(big.length ? "Archivo demasiado grande: " + big.map(function (f) { return f.name; }).join(", ") : "");
    });
  });
})();
