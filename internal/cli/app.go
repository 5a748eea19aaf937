package cli

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/vellum-sign/vellum/internal/account"
	"github.com/vellum-sign/vellum/internal/batch"
	"github.com/vellum-sign/vellum/internal/blob"
	"github.com/vellum-sign/vellum/internal/config"
	"github.com/vellum-sign/vellum/internal/db"
	"github.com/vellum-sign/vellum/internal/document"
	"github.com/vellum-sign/vellum/internal/envelope"
	"github.com/vellum-sign/vellum/internal/httpapi"
	"github.com/vellum-sign/vellum/internal/httpapi/remsig"
	"github.com/vellum-sign/vellum/internal/httpapi/signex"
	"github.com/vellum-sign/vellum/internal/idempotency"
	"github.com/vellum-sign/vellum/internal/jobs"
	"github.com/vellum-sign/vellum/internal/mail"
	"github.com/vellum-sign/vellum/internal/person"
	"github.com/vellum-sign/vellum/internal/pinpage"
	"github.com/vellum-sign/vellum/internal/pki"
	"github.com/vellum-sign/vellum/internal/portalpage"
	"github.com/vellum-sign/vellum/internal/signerpage"
	"github.com/vellum-sign/vellum/internal/tsa"
	"github.com/vellum-sign/vellum/internal/webhook"
	"github.com/vellum-sign/vellum/internal/websession"
	"github.com/vellum-sign/vellum/pkg/rfc3161"
)

// app holds the built components of one process.
type app struct {
	// draining is set on SIGTERM: /readyz answers 503 from then on.
	draining atomic.Bool
	cfg      *config.Config
	log      *slog.Logger
	db       *db.DB
	redisOpt asynq.RedisConnOpt
	redis    redis.UniversalClient
	blob     blob.Store
	registry *prometheus.Registry
	outbox   *jobs.Outbox
	queue    *asynq.Client
	accounts *account.Service
	docs     *document.Service
	// webhooks publishes events (envelopes call Publish in their
	// transactions) and serves the webhook API; webhookDelivery makes the
	// attempts in worker processes.
	webhooks        *webhook.Service
	webhookDelivery *webhook.Deliverer
	pki             *pki.PKI
	// tsa is the built-in time-stamp authority, nil unless enabled.
	tsa http.Handler
	// timestamper gets RFC 3161 tokens from the configured TSAs for signing.
	timestamper *rfc3161.Client
	// envelopes is the envelope workflow; devMail keeps outgoing mail for
	// /dev/mail in `vellum dev` without an SMTP server, nil elsewhere.
	envelopes *envelope.Service
	mailer    mail.Mailer
	devMail   *mail.Dev
	// persons holds persons, their certificates and keys; sessions are
	// the certificate portal's logins.
	persons  *person.Service
	sessions *websession.Service
	// batches are RemSig's signing batches.
	batches *batch.Service

	closers []func()
}

func newLogger(cfg *config.Config, w *os.File) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// buildApp connects to everything the configuration names. checkSchema
// refuses a database that is not at this binary's schema (dev migrates
// first instead), and dev generates its PKI on first start.
func buildApp(ctx context.Context, cfg *config.Config, log *slog.Logger, blobStore blob.Store, dev bool) (_ *app, err error) {
	checkSchema := !dev
	a := &app{cfg: cfg, log: log, registry: prometheus.NewRegistry()}
	a.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// One cleanup path: whatever was opened before a failure is closed, in
	// reverse order, by the closers registered as each part opened.
	defer func() {
		if err != nil {
			a.close()
		}
	}()
	if a.db, err = db.Open(ctx, cfg.DatabaseURL); err != nil {
		return nil, fmt.Errorf("VELLUM_DATABASE_URL: %w", err)
	}
	a.closers = append(a.closers, func() { _ = a.db.Close() })
	if checkSchema {
		if err := a.db.CheckSchema(ctx); err != nil {
			return nil, err
		}
	}
	if a.redisOpt, err = asynq.ParseRedisURI(cfg.RedisURL); err != nil {
		return nil, fmt.Errorf("VELLUM_REDIS_URL: %w", err)
	}
	rc, ok := a.redisOpt.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return nil, errors.New("VELLUM_REDIS_URL: unsupported Redis connection type")
	}
	a.redis = rc
	a.closers = append(a.closers, func() { _ = rc.Close() })
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rc.Ping(pingCtx).Err(); err != nil {
		return nil, fmt.Errorf("VELLUM_REDIS_URL: connect to Redis: %w", err)
	}
	if blobStore == nil {
		if blobStore, err = openBlob(ctx, cfg.Blob); err != nil {
			return nil, err
		}
	}
	a.blob = blobStore
	a.queue = asynq.NewClientFromRedisClient(rc)
	a.outbox = jobs.NewOutbox(a.db)
	a.accounts = account.NewService(a.db)
	whCfg := webhook.Config{
		AllowPrivate: cfg.Webhook.AllowPrivate, AllowHTTP: cfg.Webhook.AllowHTTP,
		Timeout: cfg.Webhook.Timeout, Retention: cfg.Webhook.Retention,
		// Half the worker's slots at most for one endpoint, so a hanging
		// receiver leaves the rest to the others.
		EndpointConcurrency: max(1, cfg.WorkerConcurrency/2),
	}
	a.webhooks = webhook.NewService(a.db, a.outbox, whCfg)
	a.docs = document.NewService(a.db, a.blob, envelope.NewDocumentUsage(a.db), document.Config{
		MaxSize: cfg.MaxUploadBytes, Log: log, Publisher: a.webhooks})
	if err := a.buildMailer(dev); err != nil {
		return nil, err
	}
	a.webhookDelivery = webhook.NewDeliverer(a.db, a.outbox, whCfg,
		webhook.MailNotifier{Mailer: a.mailer, PublicURL: cfg.PublicURL}, log.With("component", "webhooks"))
	if err := a.buildPKI(ctx, dev); err != nil {
		return nil, err
	}
	return a, nil
}

// buildPKI loads the platform PKI (generating it in dev), the built-in TSA
// when enabled and the client for the configured TSAs. Dev migrates before
// the PKI records its certificates, so it calls this after Migrate.
func (a *app) buildPKI(ctx context.Context, dev bool) error {
	if dev {
		// Dev's schema may not exist yet; initPKI runs after migration.
		return nil
	}
	return a.initPKI(ctx, false)
}

func (a *app) initPKI(ctx context.Context, create bool) error {
	var err error
	store := pki.WithStore(pki.NewDBStore(a.db))
	if create {
		a.pki, err = pki.LoadOrCreate(ctx, a.cfg.PKI.Dir, a.cfg.PublicURL, store)
	} else {
		var closers []func()
		a.pki, closers, err = loadPKI(ctx, a.cfg, store)
		a.closers = append(a.closers, closers...)
	}
	if err != nil {
		return fmt.Errorf("VELLUM_PKI_DIR: %w", err)
	}
	if a.cfg.PKI.TSABuiltin {
		cred := a.pki.TSA()
		if a.tsa, err = tsa.New(tsa.Config{Cert: cred.Cert, Key: cred.Key, Chain: cred.Chain[:1], Logger: a.log.With("component", "tsa")}); err != nil {
			return fmt.Errorf("built-in TSA: %w", err)
		}
	}
	servers := make([]rfc3161.Server, 0, len(a.cfg.TSAs()))
	for i, u := range a.cfg.TSAs() {
		servers = append(servers, rfc3161.Server{Name: tsaName(i), URL: u})
	}
	if a.timestamper, err = rfc3161.NewClient(servers, rfc3161.WithHTTPClient(a.outboundClient())); err != nil {
		return fmt.Errorf("VELLUM_TSA_URLS: %w", err)
	}
	if err := a.buildEnvelopes(ctx); err != nil {
		return err
	}
	return a.buildPersons(ctx)
}

// loadPKI reads the platform PKI from VELLUM_PKI_DIR, except the keys
// named by a VELLUM_PKCS11_*_KEY_LABEL: those stay on the token, and their
// files are neither needed nor read.
// The returned closers end the token's sessions.
func loadPKI(ctx context.Context, cfg *config.Config, opts ...pki.Option) (_ *pki.PKI, closers []func(), err error) {
	defer func() {
		if err != nil {
			for _, c := range closers {
				c()
			}
			closers = nil
		}
	}()
	paths := pki.DirPaths(cfg.PKI.Dir)
	if _, err := os.Stat(paths.RootKey); err != nil {
		// Production keeps the root key offline.
		paths.RootKey = ""
	}
	onToken := []struct {
		env, label string
		path       *string
	}{
		{"VELLUM_PKCS11_ISSUING_KEY_LABEL", cfg.PKI.IssuingKeyLabel, &paths.IssuingKey},
		{"VELLUM_PKCS11_SEAL_KEY_LABEL", cfg.PKI.SealKeyLabel, &paths.SealKey},
		{"VELLUM_PKCS11_TSA_KEY_LABEL", cfg.PKI.TSAKeyLabel, &paths.TSAKey},
	}
	for _, k := range onToken {
		if k.label != "" {
			*k.path = ""
		}
	}
	m, err := pki.LoadMaterial(paths)
	if err != nil {
		return nil, nil, err
	}
	keys := []*crypto.Signer{&m.IssuingKey, &m.SealKey, &m.TSAKey}
	for i, k := range onToken {
		if k.label == "" {
			continue
		}
		key, err := pki.OpenPKCS11Key(pki.PKCS11Config{Module: cfg.PKCS11.Module, TokenLabel: cfg.PKCS11.TokenLabel,
			PIN: cfg.PKCS11.PIN, KeyLabel: k.label})
		if err != nil {
			return nil, closers, fmt.Errorf("%s: %w", k.env, err)
		}
		closers = append(closers, func() { _ = key.Close() })
		*keys[i] = key
	}
	p, err := pki.New(ctx, m, cfg.PublicURL, opts...)
	return p, closers, err
}

// tsaName names the i-th configured time-stamp authority (a word, as
// RemSig's relay path /api/timestamp/relay/{serverName:\w+} needs).
func tsaName(i int) string { return fmt.Sprintf("tsa_%d", i+1) }

func openBlob(ctx context.Context, c config.BlobConfig) (blob.Store, error) {
	switch c.Backend {
	case "fs":
		s, err := blob.NewFSStore(c.Dir)
		if err != nil {
			return nil, fmt.Errorf("VELLUM_BLOB_DIR: %w", err)
		}
		return s, nil
	default:
		s, err := blob.NewS3Store(ctx, blob.S3Config{
			Endpoint: c.S3Endpoint, Region: c.S3Region, Bucket: c.S3Bucket,
			AccessKeyID: c.S3AccessKeyID, SecretAccessKey: c.S3SecretAccessKey,
			UsePathStyle: c.S3PathStyle, Prefix: c.S3Prefix,
		})
		if err != nil {
			return nil, fmt.Errorf("VELLUM_S3_*: %w", err)
		}
		return s, nil
	}
}

func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// registerTasks wires every task handler into the worker. Domain packages
// add theirs here as they arrive.
func (a *app) registerTasks(w *jobs.Worker) {
	w.Handle(webhook.TaskDeliver, a.webhookDelivery.Deliver)
	w.Handle(webhook.TaskEndpointDisabled, a.webhookDelivery.NotifyDisabled)
	a.envelopes.RegisterTasks(w)
	a.batches.RegisterTasks(w)
	a.packager().RegisterTasks(w)
}

// mounts lists the route groups the API process serves.
func (a *app) mounts() []func(e *echo.Echo, api *echo.Group) {
	return []func(e *echo.Echo, api *echo.Group){
		func(e *echo.Echo, _ *echo.Group) {
			h := echo.WrapHandler(a.pki.Handler())
			e.GET("/pki/*", h)
			e.POST("/pki/ocsp", h)
			if a.tsa != nil {
				e.POST("/tsa", echo.WrapHandler(a.tsa))
			}
		},
		httpapi.KeyRoutes(a.accounts),
		httpapi.OAuthClientRoutes(a.accounts),
		httpapi.AccountRoutes(a.accounts),
		httpapi.DocumentRoutes(a.docs),
		httpapi.WebhookRoutes(a.webhooks),
		httpapi.EnvelopeRoutes(a.envelopes),
		httpapi.SignerRoutes(a.envelopes),
		httpapi.PersonRoutes(a.persons),
		signex.Routes(signex.Deps{Persons: a.persons, Sessions: a.sessions, Limiter: httpapi.NewRateLimiter(a.redis)}),
		remsig.Routes(a.remsigDeps()),
		a.signicatRoutes(),
		pinpage.Routes(a.batches, a.persons, a.log),
		signerpage.Routes(a.log, a.signerLink),
		portalpage.Routes(a.log),
	}
}

// runOptions says which parts a process runs.
type runOptions struct {
	api    bool // the public API and signer pages
	worker bool // the Asynq worker pool
	// dev mounts /dev/*, the development conveniences; only `vellum dev`
	// sets it.
	dev bool
}

// run serves until ctx ends, then shuts down gracefully: stop accepting,
// finish in-flight requests, stop fetching tasks and let running ones finish
// within the grace period.
func (a *app) run(ctx context.Context, ln net.Listener, opts runOptions) error {
	e, err := a.router(opts)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	dispCtx, stopDispatcher := context.WithCancel(context.WithoutCancel(ctx))
	disp := jobs.NewDispatcher(a.db, a.outbox, a.queue, jobs.DispatcherConfig{RelayAfter: a.cfg.RelayAfter, Redis: a.redis}, a.log.With("component", "outbox"))
	loops := disp.Loops()

	var worker *jobs.Worker
	if opts.worker {
		worker = jobs.NewWorker(a.db, a.redisOpt, jobs.WorkerConfig{
			Concurrency: a.cfg.WorkerConcurrency, ShutdownTimeout: a.cfg.ShutdownTimeout,
			Logger: a.log.With("component", "worker"), Registerer: a.registry,
		})
		a.registerTasks(worker)
		if err := jobs.RegisterQueueMetrics(a.registry, a.redis); err != nil {
			stopDispatcher()
			return fmt.Errorf("queue metrics: %w", err)
		}
		// Idempotency records live 24 h; expired ones are only reclaimed
		// on reuse of their key otherwise.
		store := idempotency.NewStore(a.db)
		loops = append(loops, a.webhookDelivery.Pruner(time.Hour), a.envelopes.Sweeper(),
			a.certRequests().Purger(time.Hour, a.log.With("component", "certrequest")),
			jobs.Periodic{Name: "idempotency key prune", Interval: time.Hour, Run: func(ctx context.Context) error {
				n, err := store.DeleteExpired(ctx)
				if n > 0 {
					a.log.Info("pruned expired idempotency keys", "count", n)
				}
				return err
			}})
	}
	wg.Add(1)
	go func() { defer wg.Done(); jobs.RunPeriodic(dispCtx, a.log, loops...) }()
	if opts.worker {
		if err := worker.Start(); err != nil {
			stopDispatcher()
			wg.Wait()
			return err
		}
	}

	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second}
	serveErr := make(chan error, 2)
	go func() { serveErr <- srv.Serve(ln) }()
	if a.cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", a.cfg.MetricsAddr)
		if err != nil {
			_ = srv.Close()
			if worker != nil {
				worker.Shutdown()
			}
			stopDispatcher()
			wg.Wait()
			return fmt.Errorf("VELLUM_METRICS_ADDR: %w", err)
		}
		msrv := &http.Server{Handler: httpapi.OpsListenerHandler(a.registry), ReadHeaderTimeout: 10 * time.Second}
		go func() { serveErr <- msrv.Serve(mln) }()
		defer func() { _ = msrv.Close() }()
		a.log.Info("metrics listening", "addr", mln.Addr().String())
	}

	select {
	case <-ctx.Done():
		// Readiness fails first and requests are still served while the
		// load balancer notices, so none arrives at a closed listener.
		a.draining.Store(true)
		if a.cfg.DrainDelay > 0 {
			a.log.Info("draining", "delay", a.cfg.DrainDelay.String())
			select {
			case <-time.After(a.cfg.DrainDelay):
			case err = <-serveErr:
				err = fmt.Errorf("http server: %w", err)
			}
		}
	case err = <-serveErr:
		err = fmt.Errorf("http server: %w", err)
	}
	a.log.Info("shutting down", "grace", a.cfg.ShutdownTimeout.String())
	shutCtx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(shutCtx); serr != nil {
		a.log.Warn("http shutdown", "err", serr)
	}
	if worker != nil {
		worker.Shutdown()
	}
	stopDispatcher()
	wg.Wait()
	a.log.Info("stopped")
	return err
}

// router builds the HTTP handler: health, readiness, metrics and the ops
// dashboard always; the API and pages when opts.api; /dev/* when opts.dev.
func (a *app) router(opts runOptions) (*echo.Echo, error) {
	deps := httpapi.Deps{
		Log: a.log, Registry: a.registry, Accounts: a.accounts,
		Ready:            map[string]httpapi.Pinger{"database": a.db, "redis": redisPinger{a.redis}, "storage": a.blob},
		Draining:         a.draining.Load,
		OpsToken:         a.cfg.OpsToken,
		Redis:            a.redis,
		RateLimits:       a.rateLimits(),
		Idempotency:      idempotency.NewStore(a.db),
		MaxRequestBytes:  a.cfg.MaxUploadBytes + 1<<20,
		TrustedProxies:   a.cfg.TrustedProxies,
		MetricsElsewhere: a.cfg.MetricsAddr != "",
	}
	if opts.api {
		deps.Mount = a.mounts()
	}
	if opts.dev && a.devMail != nil {
		deps.Mount = append(deps.Mount, func(e *echo.Echo, _ *echo.Group) {
			e.GET("/dev/mail", echo.WrapHandler(a.devMail.Handler()))
		})
	}
	if a.cfg.OpsToken != "" {
		deps.Queues = asynqmon.New(asynqmon.Options{RootPath: "/ops/queues", RedisConnOpt: a.redisOpt})
	}
	return httpapi.New(deps)
}

// rateLimits are the per-key and per-IP limits of the configuration.
func (a *app) rateLimits() httpapi.RateLimits {
	return httpapi.RateLimits{
		PerKey: httpapi.RateLimit{PerMinute: a.cfg.RateLimitPerMinute, Burst: a.cfg.RateLimitBurst},
		PerIP:  httpapi.RateLimit{PerMinute: a.cfg.IPRateLimitPerMinute, Burst: a.cfg.IPRateLimitBurst},
	}
}

type redisPinger struct{ c redis.UniversalClient }

func (r redisPinger) Ping(ctx context.Context) error { return r.c.Ping(ctx).Err() }

// signerLink is what the signing page needs of a token besides the signer
// API: the origins its account allows to frame the page, whose link it is
// and its language.
func (a *app) signerLink(ctx context.Context, token string) (signerpage.Link, error) {
	o, err := a.envelopes.OwnerOf(ctx, token)
	if errors.Is(err, envelope.ErrTokenUnknown) {
		return signerpage.Link{}, nil
	}
	if err != nil {
		return signerpage.Link{}, err
	}
	acct, err := a.accounts.GetAccount(ctx, o.AccountID)
	if err != nil {
		return signerpage.Link{}, err
	}
	return signerpage.Link{Origins: acct.EmbedOrigins, EnvelopeID: o.EnvelopeID, RecipientID: o.RecipientID,
		Language: o.Language, Locale: o.Locale}, nil
}
