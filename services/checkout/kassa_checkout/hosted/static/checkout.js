/* Kassa hosted checkout: the steps, the page's calls, and the frame side of the embed protocol.
 * Plain ES2017, no dependencies. The server renders every step; this script shows one at a time,
 * sends each step's data to the page's own routes (/s/{id}/...) with the page's credential, and
 * re-renders nothing itself but the pieces the server returns (the summary, the shipping options).
 * Embedded (the page was opened with a valid embed token), it talks to exactly the token's origin:
 * kassa.ready, kassa.step.changed, kassa.resize, kassa.completed, kassa.error out; kassa.submitDisabled in.
 * When the application takes payments with Stripe (boot.stripe), Stripe.js draws the card fields: the
 * card goes from them to Stripe, and only the token Stripe made of it comes to Kassa. */
(function () {
  'use strict';
  var bootEl = document.getElementById('kassa-page');
  if (!bootEl) return;
  var boot = JSON.parse(bootEl.textContent);
  var sid = boot.sessionId;
  var parentOrigin = boot.embedOrigin;
  var framed = !!parentOrigin && window.parent !== window;
  var steps = boot.steps;
  var current = null;
  var state = { parentDisabled: false, busy: false, billingSame: !!boot.billingSameDefault, done: {} };
  var $ = function (sel, root) { return (root || document).querySelector(sel); };
  var $$ = function (sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); };

  function t(key, values) {
    var text = boot.messages[key] || key;
    if (values) Object.keys(values).forEach(function (k) { text = text.split('{' + k + '}').join(values[k]); });
    return text;
  }

  // ------------------------------------------------------------------ the embed protocol
  function post(message) {
    if (!framed) return;
    message.sessionId = sid;
    window.parent.postMessage(message, parentOrigin);
  }
  window.addEventListener('message', function (event) {
    if (!framed || event.origin !== parentOrigin || event.source !== window.parent) return;
    var data = event.data;
    if (!data || typeof data !== 'object' || data.sessionId !== sid) return;
    if (data.type === 'kassa.submitDisabled') {
      state.parentDisabled = data.disabled === true;
      updatePay();
    }
  });
  function watchHeight() {
    if (!framed || typeof ResizeObserver === 'undefined') return;
    var last = -1;
    new ResizeObserver(function () {
      var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
      if (height !== last) { last = height; post({ type: 'kassa.resize', height: height }); }
    }).observe(document.documentElement);
  }

  // ------------------------------------------------------------------ calls
  function randomKey() {
    var bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
  }
  function api(method, path, body) {
    var headers = { Authorization: 'Bearer ' + boot.credential, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (method === 'POST') headers['Idempotency-Key'] = randomKey();
    var url = '/s/' + encodeURIComponent(sid) + path + '?locale=' + encodeURIComponent(boot.locale);
    return fetch(url, { method: method, headers: headers, credentials: 'omit', cache: 'no-store',
                        body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (json) {
          if (!response.ok) throw { status: response.status, error: json.error || {} };
          return json;
        });
      }, function () { throw { status: 0, error: { code: 'network_error', message: t('error.network') } }; });
  }
  function applyState(answer) {
    if (answer.summaryHtml !== undefined) $('#summary').innerHTML = answer.summaryHtml;
    if (answer.payLabel && payButton) { payLabel = answer.payLabel; if (!state.busy) payButton.textContent = payLabel; }
    if (answer.recaps) Object.keys(answer.recaps).forEach(function (step) {
      var el = $('[data-recap="' + step + '"]');
      if (el && !(step === 'billing' && state.billingSame && hasStep('shipping'))) el.textContent = answer.recaps[step];
    });
  }

  // ------------------------------------------------------------------ errors
  var announcer = $('#announcer');
  function announce(text) {
    announcer.textContent = '';
    window.setTimeout(function () { announcer.textContent = text; }, 30);
  }
  function setFieldError(input, message) {
    var el = document.getElementById(input.id + '-error');
    if (el) { el.textContent = message; el.hidden = false; }
    input.setAttribute('aria-invalid', 'true');
  }
  function clearErrors(root) {
    $$('[aria-invalid]', root).forEach(function (el) { el.removeAttribute('aria-invalid'); });
    $$('.field-error, .pay-error', root).forEach(function (el) { el.hidden = true; el.textContent = ''; });
  }
  function focusEl(el) { if (el) el.focus({ preventScroll: framed }); }
  function labelOf(input) {
    var label = $('label[for="' + input.id + '"]');
    var text = label ? label.firstChild.textContent.trim() : input.name;
    return boot.locale === 'en' ? text.toLowerCase() : text;
  }
  var FIELD_IDS = { firstName: 'first-name', lastName: 'last-name', addressLine1: 'line1', addressLine2: 'line2',
                    postalCode: 'postal-code', city: 'city', countryCode: 'country' };
  function inputForField(field) {
    if (!field) return null;
    if (field === 'customerEmail') return $('#email');
    if (field === 'code') return $('#discount-code');
    var m = /^(shipping|billing)Address\.(\w+)/.exec(field);
    if (m) return document.getElementById(m[1] + '-' + (FIELD_IDS[m[2]] || m[2]));
    m = /^paymentMethod\.card\.(\w+)/.exec(field);
    if (m) return document.getElementById({ number: 'card-number', expMonth: 'card-exp', expYear: 'card-exp', cvc: 'card-cvc' }[m[1]]);
    return null;
  }
  // Show an error where it belongs (its field, else the form's), announce it, and tell the parent.
  function reportError(err, form, fallbackInput) {
    var e = (err && err.error) || {};
    var message = e.message || t('error.generic');
    var input = inputForField(e.field) || fallbackInput;
    if (input && (!form || form.contains(input))) {
      setFieldError(input, message);
      focusEl(input);
    } else {
      var box = form && $('.pay-error', form);
      if (box) { box.textContent = message; box.hidden = false; }
    }
    announce(message);
    var msg = { type: 'kassa.error', code: e.code || 'error', message: message };
    if (e.field) msg.field = e.field;
    post(msg);
  }
  function invalid(form, problems) {
    problems.forEach(function (p) { setFieldError(p[0], p[1]); });
    focusEl(problems[0][0]);
    announce(t('error.summary') + ' ' + problems[0][1]);
    var kind = form.getAttribute('data-form');
    var name = problems[0][0].name;
    // The API's field names: `shippingAddress.postalCode`, `customerEmail`, `code`, `card.number`.
    var field = kind === 'shipping' || kind === 'billing' ? kind + 'Address.' + name
      : kind === 'payment' ? 'card.' + name : name;
    post({ type: 'kassa.error', code: 'validation_error', message: problems[0][1], field: field });
  }

  // ------------------------------------------------------------------ steps
  function hasStep(step) { return steps.indexOf(step) >= 0; }
  function section(step) { return $('[data-step="' + step + '"]'); }
  function formOf(step) { return $('[data-form="' + step + '"]'); }
  function go(step, focus) {
    var index = steps.indexOf(step);
    steps.forEach(function (s, i) {
      var sec = section(s);
      var st = i < index ? 'done' : i === index ? 'current' : 'upcoming';
      sec.setAttribute('data-state', st);
      formOf(s).hidden = st !== 'current';
      $('.recap', sec).hidden = !(st === 'done' && s !== 'payment');
    });
    if (step === 'shipping_method') loadShippingOptions();
    if (step !== current) {
      var first = current === null;
      current = step;
      post({ type: 'kassa.step.changed', step: step });
      if (!first) announce(t('step.now', { step: t('step.' + step) }));
    }
    if (focus) {
      var target = $('input:not([type=hidden]):not([disabled]), select', formOf(step));
      focusEl(target && step !== 'shipping_method' ? target : $('h2', section(step)));
    }
    updatePay();
  }
  function next(step) {
    state.done[step] = true;
    var following = steps[steps.indexOf(step) + 1];
    if (following) go(following, true);
  }
  function busy(form, on) {
    state.busy = on;
    form.setAttribute('aria-busy', on ? 'true' : 'false');
    $$('button[type=submit]', form).forEach(function (b) { if (b !== payButton) b.disabled = on; });
    updatePay();
  }
  function submit(form, call, after) {
    busy(form, true);
    return call().then(function (answer) {
      busy(form, false);
      applyState(answer);
      if (after) after(answer);
    }, function (err) {
      busy(form, false);
      if (err.error && err.error.code === 'checkout_session_not_open') { window.location.reload(); return; }
      reportError(err, form);
    });
  }

  // --- contact
  var EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
  function required(form) {
    var problems = [];
    $$('input[required], select[required]', form).forEach(function (input) {
      if (input.closest('[hidden]')) return;
      if (!input.value.trim()) problems.push([input, t('error.required', { field: labelOf(input) })]);
      else if (input.type === 'email' && !EMAIL.test(input.value.trim())) problems.push([input, t('error.email')]);
    });
    return problems;
  }
  function addressOf(form) {
    var address = {};
    ['firstName', 'lastName', 'addressLine1', 'addressLine2', 'postalCode', 'city', 'countryCode'].forEach(function (name) {
      var input = form.elements[name];
      var value = input ? input.value.trim() : '';
      if (value) address[name] = value;
    });
    return address;
  }
  function onSubmit(step, handler) {
    var form = formOf(step);
    if (!form) return;
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      if (state.busy) return;
      clearErrors(form);
      var problems = required(form);
      if (problems.length) { invalid(form, problems); return; }
      handler(form);
    });
  }
  onSubmit('contact', function (form) {
    submit(form, function () { return api('PATCH', '/cart', { customerEmail: form.elements.customerEmail.value.trim() }); },
           function () { next('contact'); });
  });
  onSubmit('shipping', function (form) {
    submit(form, function () { return api('PATCH', '/cart', { shippingAddress: addressOf(form) }); },
           function () { next('shipping'); });
  });

  // --- shipping method
  var optionsLoaded = false;
  function loadShippingOptions() {
    var form = formOf('shipping_method');
    var holder = $('[data-options]', form);
    api('GET', '/shipping-methods').then(function (answer) {
      holder.innerHTML = answer.optionsHtml;
      optionsLoaded = true;
      form.setAttribute('data-option-count', String(answer.optionCount));
      applyState(answer);
    }, function (err) { reportError(err, form); });
  }
  var shippingForm = formOf('shipping_method');
  if (shippingForm) {
    shippingForm.addEventListener('change', function (event) {
      if (event.target.name !== 'shippingMethodId') return;
      clearErrors(shippingForm);
      // Choosing is the cart's atomic PUT: the summary follows at once.
      api('PUT', '/shipping-method', { shippingMethodId: event.target.value }).then(applyState, function (err) {
        reportError(err, shippingForm);
      });
    });
    shippingForm.addEventListener('submit', function (event) {
      event.preventDefault();
      if (state.busy) return;
      clearErrors(shippingForm);
      var chosen = $('input[name=shippingMethodId]:checked', shippingForm);
      var count = shippingForm.getAttribute('data-option-count');
      if (!chosen) {
        if (optionsLoaded && count === '0') { next('shipping_method'); return; }
        var error = $('#shipping-method-error');
        error.textContent = t('error.choose_shipping');
        error.hidden = false;
        focusEl($('input[name=shippingMethodId]', shippingForm) || $('h2', section('shipping_method')));
        announce(t('error.choose_shipping'));
        post({ type: 'kassa.error', code: 'validation_error', message: t('error.choose_shipping'), field: 'shippingMethodId' });
        return;
      }
      submit(shippingForm, function () { return api('PUT', '/shipping-method', { shippingMethodId: chosen.value }); },
             function () { next('shipping_method'); });
    });
  }

  // --- billing
  var billingForm = formOf('billing');
  if (billingForm) {
    var same = $('#billing-same');
    var fields = $('[data-billing-fields]', billingForm);
    if (same) {
      state.billingSame = same.checked;
      same.addEventListener('change', function () {
        state.billingSame = same.checked;
        fields.hidden = same.checked;
      });
    } else {
      state.billingSame = false;
    }
    onSubmit('billing', function (form) {
      if (state.billingSame) {
        $('[data-recap="billing"]').textContent = $('label[for="billing-same"]').textContent;
        next('billing');
        return;
      }
      submit(form, function () { return api('PATCH', '/cart', { billingAddress: addressOf(form) }); },
             function () { next('billing'); });
    });
  }

  // --- payment
  var payForm = formOf('payment');
  var payButton = payForm ? $('[data-pay]', payForm) : null;
  var payLabel = payButton ? payButton.textContent : '';
  var challenge = $('[data-challenge]');
  function method() {
    var checked = payForm && $('input[name=method]:checked, input[name=method][type=hidden]', payForm);
    return checked ? checked.value : 'card';
  }
  function digits(value) { return value.replace(/\D/g, ''); }
  function parseExpiry(value) {
    var m = /^\s*(\d{1,2})\s*\/?\s*(\d{2}|\d{4})\s*$/.exec(value);
    if (!m) return null;
    var month = parseInt(m[1], 10);
    var year = parseInt(m[2], 10);
    if (year < 100) year += 2000;
    return month >= 1 && month <= 12 ? { month: month, year: year } : null;
  }
  function cardProblems() {
    var problems = [];
    var number = $('#card-number');
    var exp = $('#card-exp');
    var cvc = $('#card-cvc');
    var n = digits(number.value);
    if (n.length < 12 || n.length > 19) problems.push([number, t('error.card_number')]);
    if (!parseExpiry(exp.value)) problems.push([exp, t('error.card_exp')]);
    if (!/^\d{3,4}$/.test(cvc.value.trim())) problems.push([cvc, t('error.card_cvc')]);
    return problems;
  }
  function readyToPay() {
    for (var i = 0; i < steps.length - 1; i++) if (!state.done[steps[i]]) return false;
    if (stripeBoot) return !!stripeCard && card.complete;
    return method() !== 'card' || cardProblems().length === 0;
  }
  // The pay button: disabled until the collected fields are complete, or while the parent says so.
  function updatePay() {
    if (!payButton) return;
    payButton.disabled = state.busy || state.parentDisabled || current !== 'payment' || !readyToPay();
  }
  function pay(paymentMethod, afterAction) {
    var body = { paymentMethod: paymentMethod };
    if (hasStep('billing') && state.billingSame && hasStep('shipping')) body.billingSameAsShipping = true;
    busy(payForm, true);
    payButton.textContent = t('payment.processing');
    return api('POST', '/complete', body).then(function (answer) {
      state.busy = false;
      payButton.textContent = payLabel;
      if (answer.status === 'complete') completed(answer.orderId);
      else updatePay();
    }, function (err) {
      busy(payForm, false);
      payButton.textContent = payLabel;
      var e = err.error || {};
      if (e.code === 'payment_action_required') {
        var action = e.details && e.details.nextAction;
        if (!stripeBoot) { showChallenge(); return; }
        if (action && action.provider === 'stripe' && action.clientSecret && !afterAction) { authenticate(action); return; }
        err = { error: { code: e.code, message: t('stripe.authentication_incomplete') } };
      }
      challenge.hidden = true;
      if (e.code === 'checkout_session_not_open') { window.location.reload(); return; }
      if (e.code === 'address_required' && e.field) {
        var step = e.field === 'billingAddress' ? 'billing' : 'shipping';
        if (hasStep(step)) { state.done[step] = false; go(step, true); reportError(err, formOf(step)); return; }
      }
      if (e.code === 'payment_declined' || e.code === 'payment_failed') {
        var reason = e.details && e.details.reason;
        var text = t('error.declined', { reason: boot.messages['decline.' + reason] ||
                                                   boot.messages['stripe.decline.' + reason] || e.message });
        err = { error: { code: e.code, message: text } };
      }
      reportError(err, payForm);
      focusEl($('#payment-error'));
    });
  }
  function showChallenge() {
    challenge.hidden = false;
    payForm.hidden = true;
    focusEl($('#challenge-title'));
  }
  if (payForm) {
    $('#payment-error').setAttribute('tabindex', '-1');
    payForm.addEventListener('input', function () { updatePay(); });
    payForm.addEventListener('change', function (event) {
      if (event.target.name === 'method') {
        var card = method() === 'card';
        $('[data-card-fields]', payForm).hidden = !card;
        $('[data-wallet-note]', payForm).hidden = card;
      }
      updatePay();
    });
    $$('#card-number, #card-exp, #card-cvc').forEach(function (input) {
      input.addEventListener('blur', function () {
        var problem = cardProblems().filter(function (p) { return p[0] === input; })[0];
        var error = document.getElementById(input.id + '-error');
        if (problem && input.value.trim()) setFieldError(input, problem[1]);
        else { input.removeAttribute('aria-invalid'); error.hidden = true; }
      });
    });
    payForm.addEventListener('submit', function (event) {
      event.preventDefault();
      if (state.busy || state.parentDisabled) return;
      clearErrors(payForm);
      var m = method();
      if (m !== 'card') { pay({ type: m, token: 'tok_' + m }); return; }
      if (stripeBoot) { payWithStripe(); return; }
      var problems = cardProblems();
      if (problems.length) { invalid(payForm, problems); return; }
      var exp = parseExpiry($('#card-exp').value);
      pay({ type: 'card', card: { number: digits($('#card-number').value), expMonth: exp.month, expYear: exp.year,
                                  cvc: $('#card-cvc').value.trim() } });
    });
    $('[data-challenge-approve]').addEventListener('click', function () { finishChallenge('approved'); });
    $('[data-challenge-decline]').addEventListener('click', function () { finishChallenge('declined'); });
  }

  // --- the card through Stripe.js: its fields, its token, its 3-D Secure window
  var stripeBoot = boot.stripe;
  var stripe = null;
  var stripeCard = null;
  var card = { complete: false, errorShown: false };
  var cardBox = $('[data-stripe-card]');
  function focusCard() {
    if (stripeCard && typeof stripeCard.focus === 'function') { stripeCard.focus(); return; }
    focusEl($('input', cardBox));  // a stand-in for Stripe.js that draws plain inputs
  }
  function cardError(message, code) {
    cardBox.classList.add('invalid');
    card.errorShown = true;
    reportError({ error: { code: code || 'validation_error', message: message, field: 'card' } }, payForm);
    focusCard();
  }
  function stripeUnavailable() {
    stripe = stripeCard = null;
    var box = $('#payment-error');
    box.textContent = t('stripe.unavailable');
    box.hidden = false;
    updatePay();
  }
  function mountStripe() {
    if (typeof window.Stripe !== 'function') { stripeUnavailable(); return; }
    try {
      stripe = window.Stripe(stripeBoot.publishableKey, { locale: boot.locale });
      stripeCard = stripe.elements().create('card', { style: { base: { fontSize: '16px', color: '#1f2328' } } });
      stripeCard.mount(cardBox);
    } catch (e) { stripeUnavailable(); return; }
    stripeCard.on('change', function (event) {
      // Stripe.js says whether the card is complete and what is wrong with it; a stand-in that says
      // nothing leaves it to Stripe's answer to createToken.
      card.complete = event && typeof event.complete === 'boolean' ? event.complete : true;
      var box = $('#payment-error');
      if (event && event.error) {
        box.textContent = event.error.message;
        box.hidden = false;
        card.errorShown = true;
      } else if (card.errorShown) {  // the shopper is correcting the card: its error goes (a decline stays)
        box.hidden = true;
        box.textContent = '';
        card.errorShown = false;
      }
      cardBox.classList.toggle('invalid', card.errorShown);
      updatePay();
    });
  }
  function payWithStripe() {
    card.errorShown = false;
    cardBox.classList.remove('invalid');
    busy(payForm, true);
    payButton.textContent = t('payment.processing');
    var done = function () { busy(payForm, false); payButton.textContent = payLabel; };
    Promise.resolve().then(function () { return stripe.createToken(stripeCard); }).then(function (result) {
      done();
      var token = result && result.token;
      if (token && typeof token.id === 'string') { pay({ type: 'card', token: token.id }); return; }
      // Stripe.js's messages about the card are written for the shopper; others (a refused request) are not.
      var error = (result && result.error) || {};
      var forShopper = (error.type === 'validation_error' || error.type === 'card_error') && error.message;
      cardError(forShopper || t('stripe.card_invalid'), error.code);
    }, function () {
      done();
      cardError(t('stripe.card_invalid'));
    });
  }
  // The bank's check (3-D Secure) in Stripe's own window; then Kassa asks Stripe how it went.
  function authenticate(action) {
    // Framed, the page grows while Stripe's window is open: the window fits in the frame, not beyond it.
    document.documentElement.classList.add('authenticating');
    var closed = function () { document.documentElement.classList.remove('authenticating'); };
    busy(payForm, true);
    payButton.textContent = t('stripe.authenticating');
    announce(t('stripe.authenticating'));
    Promise.resolve().then(function () { return stripe.confirmCardPayment(action.clientSecret); }).then(function (result) {
      var intent = result && result.paymentIntent;
      // Stripe.js answers `error` when the check failed; a stand-in may only give the intent's status.
      var passed = !!intent && !result.error && ['succeeded', 'requires_capture', 'processing'].indexOf(intent.status) >= 0;
      closed();
      busy(payForm, false);
      pay({ actionResult: passed ? 'approved' : 'declined' }, true);
    }, function () {
      closed();
      busy(payForm, false);
      pay({ actionResult: 'declined' }, true);
    });
  }
  if (payForm && stripeBoot && cardBox) mountStripe();

  function finishChallenge(result) {
    challenge.hidden = true;
    payForm.hidden = false;
    pay({ actionResult: result });
  }
  function completed(orderId) {
    $$('.step, .page-title, .discount').forEach(function (el) { el.hidden = true; });
    $$('[data-remove-code]').forEach(function (el) { el.hidden = true; });
    var done = $('[data-terminal="completed"]');
    $('[data-order-id]', done).textContent = orderId;
    done.hidden = false;
    focusEl(done);
    announce($('h1', done).textContent);
    post({ type: 'kassa.completed', orderId: orderId });
    if (!parentOrigin && boot.successUrl) window.location.assign(boot.successUrl);
  }

  // --- discount codes
  var discountForm = formOf('discount');
  if (discountForm) {
    var codeInput = $('#discount-code');
    discountForm.addEventListener('submit', function (event) {
      event.preventDefault();
      clearErrors(discountForm);
      var code = codeInput.value.trim();
      if (!code) { invalid(discountForm, [[codeInput, t('error.required', { field: labelOf(codeInput) })]]); return; }
      submit(discountForm, function () { return api('POST', '/discount-codes', { code: code }); }, function () {
        codeInput.value = '';
        announce(t('discount.applied', { code: code }));
      });
    });
    $('#summary').addEventListener('click', function (event) {
      var button = event.target.closest('[data-remove-code]');
      if (!button) return;
      var code = button.getAttribute('data-remove-code');
      submit(discountForm, function () { return api('DELETE', '/discount-codes/' + encodeURIComponent(code)); },
             function () { focusEl(codeInput); announce(t('discount.removed', { code: code })); });
    });
  }

  // --- edits of finished steps
  $$('[data-edit]').forEach(function (button) {
    button.addEventListener('click', function () { go(button.getAttribute('data-edit'), true); });
  });

  // ------------------------------------------------------------------ start
  for (var i = 0; i < steps.indexOf(boot.current); i++) state.done[steps[i]] = true;
  post({ type: 'kassa.ready' });
  go(boot.current, false);
  watchHeight();
})();
