// The simulator's imitation of ANEF's Angular app (/particuliers/#/...).
//
// Small and framework-free on purpose: it renders the same screens as the real
// app from the same kind of JSON APIs, so that a browser probe sees what a
// person sees (a banner when an API fails, a spinner that never ends, a blank
// page after a script error). Nothing here is downloaded from anywhere.
(function () {
  "use strict";

  var ERREUR_TECHNIQUE = "Une erreur technique est survenue. Veuillez réessayer ultérieurement.";
  var root = document.querySelector("app-root");

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { e.textContent = attrs[k]; } else { e.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { e.appendChild(c); });
    return e;
  }

  function cookie(name) {
    var found = document.cookie.split(";").map(function (c) { return c.trim(); })
      .filter(function (c) { return c.indexOf(name + "=") === 0; })[0];
    return found ? found.substring(name.length + 1) : "";
  }

  // The login URL as the real app builds it (theme, fragment response mode).
  function loginUrl() {
    var back = encodeURIComponent(location.origin + "/particuliers/#");
    return "/auth/realms/anef-usagers/protocol/openid-connect/auth?client_id=anef-usagers" +
      "&theme=portail-anef&redirect_uri=" + back +
      "&response_mode=fragment&response_type=code&scope=openid";
  }

  // Calls a JSON API with the token the login left in the `auth_token` cookie.
  function api(method, path, body) {
    var headers = { "Accept": "application/json" };
    var token = cookie("auth_token");
    if (token) { headers["Authorization"] = "Token " + token; }
    if (body !== undefined) { headers["Content-Type"] = "application/json"; }
    return fetch(path, {
      method: method, headers: headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      return r.text().then(function (t) {
        var data = null;
        try { data = JSON.parse(t); } catch (e) { data = null; }
        return { status: r.status, data: data };
      });
    });
  }

  function page(children) {
    root.textContent = "";
    root.appendChild(el("header", { "class": "fr-header", role: "banner" }, [
      el("p", { "class": "fr-logo", text: "Ministère de l'Intérieur" }),
      el("p", { "class": "fr-header__service-title", text: "Administration numérique pour les étrangers en France" }),
      el("nav", { "class": "fr-header__tools" }, [
        el("a", { id: "btn-se-connecter", "class": "fr-btn", href: loginUrl(), text: "SE CONNECTER" })
      ])
    ]));
    root.appendChild(el("main", { id: "main", role: "main" }, children));
  }

  function banner(message) {
    page([el("div", { "class": "alert alert-danger fr-alert fr-alert--error", role: "alert" }, [
      el("p", { text: message })
    ])]);
  }

  function spinner() {
    root.textContent = "";
    root.appendChild(el("div", { "class": "app-loader", role: "status", "aria-live": "polite" }, [
      el("span", { "class": "spinner" }), el("span", { text: "Chargement en cours…" })
    ]));
  }

  // The home view comes from the shell's <template id="vue-accueil">.
  function home() {
    var view = document.getElementById("vue-accueil");
    root.textContent = "";
    root.appendChild(view.content.cloneNode(true));
  }

  function field(id, label, type, placeholder) {
    var input = el("input", { id: id, name: id, type: type, "class": "fr-input p-inputtext" });
    if (placeholder) { input.setAttribute("placeholder", placeholder); }
    return el("app-input", {}, [el("div", { "class": "fr-input-group" }, [
      el("label", { "for": id, "class": "fr-label", text: label }), input,
      el("p", { id: id + "-erreur", "class": "fr-error-text", hidden: "" })
    ])]);
  }

  function signup() {
    var form = el("form", { id: "form-inscription", novalidate: "" }, [
      field("email", "Adresse électronique", "email"),
      field("emailConfirmation", "Confirmation de l'adresse électronique", "email"),
      field("numeroEtranger", "Numéro étranger", "text", "Exemple : 9999999999"),
      el("p-button", {}, [el("button", { id: "btn-valider", type: "submit", "class": "p-button fr-btn", text: "Valider" })])
    ]);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var value = function (id) { return document.getElementById(id).value; };
      api("POST", "/api/usager/inscription", {
        email: value("email"), email_confirmation: value("emailConfirmation"), numero_etranger: value("numeroEtranger")
      }).then(function (r) {
        if (r.status === 201 && r.data) {
          page([el("div", { id: "inscription-confirmee", "class": "fr-alert fr-alert--success", role: "status" }, [
            el("p", { text: r.data.message })
          ])]);
        } else if (r.status === 422 && r.data && r.data.erreurs) {
          Object.keys(r.data.erreurs).forEach(function (k) {
            var p = document.getElementById(k + "-erreur");
            if (p) { p.textContent = r.data.erreurs[k]; p.removeAttribute("hidden"); }
          });
        } else {
          banner(ERREUR_TECHNIQUE);
        }
      }, function () { banner(ERREUR_TECHNIQUE); });
    });
    page([el("p-tabview", {}, [el("h1", { text: "Identification" }),
      el("p", { text: "Première visite ? Créez votre compte. Un e-mail vous permettra ensuite de choisir votre mot de passe." }),
      form])]);
  }

  function personalSpace() {
    Promise.all([api("GET", "/api/usager/moi"), api("GET", "/api/notifications?per_page=50&page=1"),
      api("GET", "/api/sejour/usager/statut/demande_sejour")]).then(function (rs) {
      if (rs[0].status === 401) { location.href = loginUrl(); return; }
      if (rs.some(function (r) { return r.status !== 200 || !r.data; })) { banner(ERREUR_TECHNIQUE); return; }
      var moi = rs[0].data, notes = rs[1].data, statut = rs[2].data;
      page([
        el("h1", { text: "Mon espace personnel" }),
        el("p", { id: "usager", text: "Identifiant : " + moi.usager.identifiant }),
        el("p", { id: "statut-demande", text: "Ma demande : " + statut.libelle }),
        el("p", { id: "notifications", text: notes._meta.total + " notification(s)" }),
        el("a", { id: "lien-depot", href: "#/espace-personnel/depot-piece", "class": "fr-btn", text: "Déposer une pièce justificative" })
      ]);
    }, function () { banner(ERREUR_TECHNIQUE); });
  }

  function upload() {
    var progress = el("progress", { id: "progression", max: "100", value: "0", hidden: "" });
    var result = el("div", { id: "resultat-depot", "aria-live": "polite" });
    var form = el("form", { id: "form-depot" }, [
      el("label", { "for": "type_piece", "class": "fr-label", text: "Type de pièce" }),
      el("select", { id: "type_piece", name: "type_piece", "class": "fr-select" }, [
        el("option", { value: "justificatif_domicile", text: "Justificatif de domicile" }),
        el("option", { value: "passeport", text: "Passeport" }),
        el("option", { value: "photo", text: "Photographie d'identité" })
      ]),
      el("label", { "for": "fichier", "class": "fr-label", text: "Fichier (PDF, JPG ou PNG, 2 Mo au plus)" }),
      el("input", { id: "fichier", name: "fichier", type: "file", accept: ".pdf,.jpg,.jpeg,.png" }),
      el("button", { id: "btn-deposer", type: "submit", "class": "fr-btn", text: "Déposer" }),
      progress, result
    ]);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var file = document.getElementById("fichier").files[0];
      if (!file) { result.textContent = "Veuillez choisir un fichier."; return; }
      var data = new FormData();
      data.append("type_piece", document.getElementById("type_piece").value);
      data.append("fichier", file);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/anf/pieces-justificatives");
      var token = cookie("auth_token");
      if (token) { xhr.setRequestHeader("Authorization", "Token " + token); }
      progress.removeAttribute("hidden");
      xhr.upload.onprogress = function (e) { if (e.lengthComputable) { progress.value = Math.round(100 * e.loaded / e.total); } };
      xhr.onload = function () {
        progress.value = 100;
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
        if (xhr.status === 201 && body) {
          result.appendChild(el("p", { id: "depot-ok", "class": "fr-alert fr-alert--success", text: "Votre pièce a bien été déposée." }));
        } else {
          var msg = body && body.message ? body.message : ERREUR_TECHNIQUE;
          result.appendChild(el("p", { "class": "alert alert-danger fr-alert fr-alert--error", role: "alert", text: msg }));
        }
      };
      xhr.onerror = function () { banner(ERREUR_TECHNIQUE); };
      xhr.send(data);
    });
    page([el("h1", { text: "Déposer une pièce justificative" }), form]);
  }

  function route() {
    var hash = location.hash.replace(/^#/, "").split("?")[0];
    if (hash === "/espace-personnel/connexion-inscription") { signup(); }
    else if (hash === "/espace-personnel/depot-piece") { upload(); }
    else if (hash === "/espace-personnel") { personalSpace(); }
    else { home(); }
  }

  // Start: spinner, the app's parameters, then the screen of the current route.
  spinner();
  api("GET", "/api/public/parametres").then(function (r) {
    if (r.status !== 200 || !r.data) { banner(ERREUR_TECHNIQUE); return; }
    if (r.data.maintenance) { banner("Le site est en maintenance. Veuillez réessayer ultérieurement."); return; }
    window.addEventListener("hashchange", route);
    route();
  }, function () { banner(ERREUR_TECHNIQUE); });
})();
