// A small single-page application: the shell is always 200; what the person
// sees depends on the JSON API, fetched after the page loaded.
fetch('/api/status')
  .then(r => { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
  .then(d => {
    document.getElementById('app').innerHTML =
      '<h1>Bienvenue</h1>' +
      '<form id="f" method="post" action="/submit">' +
      '<input id="email" name="email" autocomplete="off">' +
      '<select id="motif" name="motif"><option value="a">Premier titre</option><option value="b">Renouvellement</option></select>' +
      '<label><input type="checkbox" id="cgu" name="cgu"> J\'accepte</label>' +
      '<input type="file" id="doc" name="doc">' +
      '<button type="button" id="check">Vérifier</button>' +
      '<button type="submit" id="send">Envoyer</button></form>' +
      '<p>Premier créneau : <span id="first" data-ts="' + d.first + '">' + d.first_text + '</span></p>' +
      '<ul id="slots">' + d.slots.map(s => '<li class="slot"><a href="/rdv/' + s + '">' + s + '</a></li>').join('') + '</ul>' +
      '<a id="next" href="/app?page=2">Suite</a>';
    document.getElementById('check').onclick = () => {
      const f = document.getElementById('doc').files[0];
      document.getElementById('app').insertAdjacentHTML('beforeend',
        '<p id="done">Vérifié ' + document.getElementById('email').value + ' | ' + document.getElementById('motif').value +
        ' | ' + document.getElementById('cgu').checked + ' | ' + (f ? f.name + ' ' + f.size : 'aucun fichier') + '</p>');
    };
  })
  .catch(e => {
    console.error('api failed: ' + e.message);
    document.getElementById('app').innerHTML = '<div class="alert-danger" role="alert">Une erreur technique est survenue</div>';
  });
