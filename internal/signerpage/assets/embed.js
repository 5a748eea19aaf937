// Vellum signing page, embedded: tells the window that framed the page
// what happened (signed, declined, error), addressed to that window's
// origin only, and only when the account allows that origin. The origin is
// location.ancestorOrigins[0] where the browser has it, else the page's
// validated ?origin= parameter, else document.referrer's origin; whichever
// it is, it must be one of the account's embed origins (data-embed-origins,
// the same list the frame-ancestors directive carries), and postMessage is
// given it as targetOrigin, so the browser itself refuses to deliver to any
// other window. Never '*'.
'use strict';

(function () {
  var body = document.body;
  var allowed = (body.getAttribute('data-embed-origins') || '').split(' ').filter(Boolean);
  var target = null;
  if (window.parent !== window && allowed.length) {
    var candidates = [];
    if (location.ancestorOrigins && location.ancestorOrigins.length) {
      candidates.push(location.ancestorOrigins[0]);
    } else {
      candidates.push(body.getAttribute('data-embed-origin') || '');
      try {
        candidates.push(document.referrer ? new URL(document.referrer).origin : '');
      } catch (e) { /* no usable referrer */ }
    }
    for (var i = 0; i < candidates.length && !target; i++) {
      if (candidates[i] && allowed.indexOf(candidates[i]) >= 0) {
        target = candidates[i];
      }
    }
  }

  // post sends one event: {source: 'vellum', type, envelopeId, recipientId}
  // and, for errors, a stable code.
  function post(type, code) {
    if (!target) {
      return false;
    }
    var msg = {
      source: 'vellum',
      type: type,
      envelopeId: body.getAttribute('data-envelope-id') || '',
      recipientId: body.getAttribute('data-recipient-id') || ''
    };
    if (code) {
      msg.code = code;
    }
    window.parent.postMessage(msg, target);
    return true;
  }
  window.vellumEmbed = { post: post };

  // A state page (link expired, already signed, …) reports itself at once.
  var ev = body.getAttribute('data-embed-event');
  if (ev) {
    post(ev, body.getAttribute('data-embed-code') || '');
  }
}());
