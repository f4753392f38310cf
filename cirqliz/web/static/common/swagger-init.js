// The API viewer at /schema: Swagger UI (served from /vendor) on the document at data-spec-url.
// Kept out of the page so the Content-Security-Policy needs no 'unsafe-inline'.
//
// Swagger UI has no translations: its own words (buttons, headings) are put in French here, as it
// draws them. Only a text node or attribute that is exactly one of the words below changes, so the
// document's own texts (already French) are never touched.
const FRENCH = {
  'Try it out': 'Essayer',
  Cancel: 'Annuler',
  Execute: 'Envoyer',
  Clear: 'Effacer',
  Parameters: 'Paramètres',
  'No parameters': 'Aucun paramètre',
  'Request body': 'Corps de la requête',
  Responses: 'Réponses',
  'Response body': 'Corps de la réponse',
  'Response headers': 'En-têtes de la réponse',
  Links: 'Liens',
  'No links': 'Aucun lien',
  'Media type': 'Type de contenu',
  'Example Value': 'Exemple',
  'Edit Value': 'Modifier',
  Examples: 'Exemples',
  Schema: 'Schéma',
  Schemas: 'Schémas',
  Model: 'Modèle',
  Authorize: 'Se connecter',
  Authorized: 'Connecté',
  'Available authorizations': 'Moyens de connexion',
  Close: 'Fermer',
  Logout: 'Se déconnecter',
  'Value:': 'Valeur :',
  Servers: 'Serveurs',
  'Server response': 'Réponse du serveur',
  Details: 'Détails',
  'Request URL': 'URL de la requête',
  'Request duration': 'Durée de la requête',
  Download: 'Télécharger',
  required: 'obligatoire',
  Name: 'Nom',
  'Headers:': 'En-têtes :',
  'Send empty value': 'Envoyer une valeur vide',
  Reset: 'Réinitialiser',
  Callbacks: 'Rappels',
  'Expand all': 'Tout déplier',
  'Collapse all': 'Tout replier',
  'Controls Accept header.': "Choisit l'en-tête Accept.",
  'Loading...': 'Chargement…',
  Undocumented: 'Non documentée',
  'Copy to clipboard': 'Copier',
  'Failed to fetch.': 'Échec de la requête.',
  'Possible Reasons:': 'Causes possibles :',
  'Expand operation': "Déplier l'opération",
  'Collapse operation': "Replier l'opération",
  Controls: "Choisit l'en-tête",
  'header.': 'de la requête.',
  'Name:': 'Nom :',
  'In:': 'Dans :',
  'Apply credentials': 'Valider le jeton',
  'Copy cURL command to clipboard': 'Copier la commande cURL',
  'Copy code to clipboard': 'Copier le code',
  'Copy path to clipboard': 'Copier le chemin',
  'Media Type': 'Type de contenu',
  'Request content type': 'Type de contenu de la requête',
  'auth-bearer-value': "Jeton d'API",
  'authorization button unlocked': 'connexion non établie',
  'authorization button locked': 'connexion établie',
};
const ATTRIBUTES = ['placeholder', 'aria-label', 'title', 'value'];
// The status line of an answer ("Error: Unauthorized"): the server's English reason phrase.
const ERRORS = {
  'Bad Request': 'requête invalide',
  Unauthorized: 'non authentifié',
  Forbidden: 'droit manquant',
  'Not Found': 'introuvable',
  'Method Not Allowed': 'méthode refusée',
  'Payload Too Large': 'corps trop grand',
  'Unprocessable Entity': 'demande refusée',
  'Too Many Requests': 'trop de requêtes',
  'Internal Server Error': 'erreur du serveur',
};

function inFrench(text) {
  if (FRENCH[text] !== undefined) return FRENCH[text];
  if (text.startsWith('Error: ')) {
    const reason = text.slice('Error: '.length);
    return `Erreur : ${ERRORS[reason] ?? reason}`;
  }
  return undefined;
}

function translate(root) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.parentElement?.closest('textarea, pre, code, input')) continue; // what people type or receive
    const text = node.nodeValue;
    const french = inFrench(text.trim());
    // Never set a text to itself: that is a change too, and the observer would go round for ever.
    if (french !== undefined && french !== text.trim()) node.nodeValue = text.replace(text.trim(), french);
  }
  const elements = root.nodeType === Node.ELEMENT_NODE ? [root, ...root.querySelectorAll('*')] : [];
  for (const el of elements) {
    for (const name of ATTRIBUTES) {
      if (name === 'value' && !(el.tagName === 'INPUT' && ['button', 'submit', 'reset'].includes(el.type))) continue;
      const value = el.getAttribute(name)?.trim();
      const french = value === undefined ? undefined : FRENCH[value];
      if (french !== undefined && french !== value) el.setAttribute(name, french);
    }
  }
}

window.addEventListener('DOMContentLoaded', () => {
  const container = document.getElementById('swagger-container');
  new MutationObserver((changes) => {
    for (const change of changes) {
      if (change.type === 'characterData') translate(change.target.parentNode ?? container);
      else for (const node of change.addedNodes) translate(node.nodeType === Node.TEXT_NODE ? node.parentNode : node);
    }
  }).observe(container, { childList: true, subtree: true, characterData: true });
  window.ui = window.SwaggerUIBundle({
    url: container.dataset.specUrl,
    dom_id: '#swagger-container',
    validatorUrl: null,
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIStandalonePreset],
  });
});
