<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel;

use Illuminate\Broadcasting\BroadcastManager;
use Illuminate\Cache\RateLimiter;
use Illuminate\Contracts\Debug\ExceptionHandler;
use Illuminate\Contracts\Foundation\Application;
use Illuminate\Foundation\Console\AboutCommand;
use Illuminate\Notifications\ChannelManager;
use Illuminate\Queue\Events\Looping;
use Illuminate\Queue\QueueManager;
use Illuminate\Support\Facades\Route;
use Illuminate\Support\ServiceProvider;
use MqttBroadcast\Laravel\Broadcasting\MqttBroadcaster;
use MqttBroadcast\Laravel\Config\MqttBroadcastConfig;
use MqttBroadcast\Laravel\Daemon\DaemonRegistry;
use MqttBroadcast\Laravel\Daemon\Throughput;
use MqttBroadcast\Laravel\Http\Middleware\Authorize;
use MqttBroadcast\Laravel\Logging\MessageLog;
use MqttBroadcast\Laravel\Notifications\MqttChannel;
use MqttBroadcast\Laravel\Queue\MqttConnector;
use MqttBroadcast\Laravel\RateLimiting\PublishLimiter;
use MqttBroadcast\Laravel\Routing\Router;

/**
 * Registers nothing that needs the mqtt_broadcast extension: an application
 * boots without it, and only a real publish or the daemon asks for it.
 */
class MqttBroadcastServiceProvider extends ServiceProvider
{
    public function register(): void
    {
        $this->mergeConfigFrom(__DIR__ . '/../config/mqtt-broadcast.php', 'mqtt-broadcast');

        // Read and validated once, on first use: a bad key fails there with its name.
        $this->app->singleton(
            MqttBroadcastConfig::class,
            static fn (Application $app) => MqttBroadcastConfig::fromArray($app['config']->get('mqtt-broadcast'), environment: $app->environment())
        );
        $this->app->singleton(Connections::class);
        $this->app->singleton(
            MessageLog::class,
            static fn (Application $app) => new MessageLog($app->make(MqttBroadcastConfig::class)->logs, $app->make(ExceptionHandler::class))
        );
        $this->app->singleton(PublishLimiter::class, static function (Application $app): PublishLimiter {
            $config = $app->make(MqttBroadcastConfig::class)->rateLimiting;
            return new PublishLimiter($config, new RateLimiter($app['cache']->store($config->cacheStore)));
        });
        $this->app->singleton(MqttBroadcast::class);
        $this->app->singleton(DaemonRegistry::class, static fn (Application $app) => new DaemonRegistry($app['cache']->store()));
        $this->app->singleton(Throughput::class, static fn (Application $app) => new Throughput($app['cache']->store()));
        $this->app->singleton(Router::class);

        // The "mqtt" broadcasting driver and notification channel, added when
        // the application uses broadcasting or notifications at all. Not static
        // closures: newer BroadcastManagers bind the creator to themselves.
        $this->callAfterResolving(BroadcastManager::class, function (BroadcastManager $broadcast): void {
            $broadcast->extend('mqtt', fn ($app, array $config) => new MqttBroadcaster($app, $config));
        });
        $this->callAfterResolving(ChannelManager::class, function (ChannelManager $channels): void {
            $channels->extend('mqtt', fn ($app) => new MqttChannel($app));
        });
        // The "mqtt" queue driver: QUEUE_CONNECTION=mqtt, `php artisan queue:work mqtt`.
        $this->callAfterResolving('queue', function (QueueManager $queue): void {
            $queue->addConnector('mqtt', fn () => new MqttConnector($this->app));
        });
    }

    public function boot(): void
    {
        $this->registerRoutes();
        $this->loadViewsFrom(__DIR__ . '/../resources/views', 'mqtt-broadcast');
        if ($this->app->runningInConsole()) {
            $this->loadMqttRoutes();
            $this->offerPublishing();
            // From the package, as the pure-PHP package does: `php artisan migrate` is enough.
            $this->loadMigrationsFrom(__DIR__ . '/../database/migrations');
            $this->commands([
                Commands\MqttBroadcastCommand::class,
                Commands\StatusCommand::class,
                Commands\TerminateCommand::class,
                Commands\InstallCommand::class,
                Commands\TestCommand::class,
                Commands\FailedCommand::class,
                Commands\RetryCommand::class,
                Commands\RetryAllCommand::class,
                Commands\ForgetCommand::class,
                Commands\FlushCommand::class,
                Commands\RoutesCommand::class,
                Commands\BrokerCommand::class,
            ]);
            $this->aboutSection();
        }

        // Messages logged outside the daemon go to the database once the request
        // or command ends, and after every job of a queue worker.
        $flush = function (): void {
            if ($this->app->resolved(MessageLog::class)) {
                $this->app->make(MessageLog::class)->flush();
            }
        };
        $this->app->terminating($flush);
        $this->app['events']->listen(Looping::class, $flush);
    }

    /**
     * The dashboard, its JSON API, the health and metrics endpoints, where the
     * pure-PHP package had them. Read from the raw config, as route
     * registration runs on every boot: a config error must surface where MQTT
     * is used, not on every request.
     */
    private function registerRoutes(): void
    {
        if ($this->app->routesAreCached()) {
            return;
        }
        $config = $this->app['config'];
        // That package's config file names its own Authorize middleware; this package's takes its place.
        $middleware = array_map(
            static fn ($m) => $m === 'enzolarosa\\MqttBroadcast\\Http\\Middleware\\Authorize' ? Authorize::class : $m,
            (array) $config->get('mqtt-broadcast.middleware', ['web', Authorize::class])
        );
        Route::group([
            'domain' => $config->get('mqtt-broadcast.domain'),
            'prefix' => $config->get('mqtt-broadcast.path', 'mqtt-broadcast'),
            'middleware' => $middleware,
        ], function (): void {
            $this->loadRoutesFrom(__DIR__ . '/../routes/web.php');
        });
    }

    /**
     * The application's routes/mqtt.php, as routes/channels.php is loaded;
     * after every provider booted, as the file may use the application's
     * bindings. Only the daemon and mqtt-broadcast:routes read the routes,
     * so web requests do not load it.
     */
    private function loadMqttRoutes(): void
    {
        $this->app->booted(function (): void {
            $file = $this->app->basePath('routes/mqtt.php');
            if (is_file($file)) {
                require $file;
            }
        });
    }

    private function offerPublishing(): void
    {
        $this->publishes([
            __DIR__ . '/../routes/mqtt.php' => $this->app->basePath('routes/mqtt.php'),
        ], 'mqtt-broadcast-routes');

        $this->publishes([
            __DIR__ . '/../config/mqtt-broadcast.php' => $this->app->configPath('mqtt-broadcast.php'),
        ], 'mqtt-broadcast-config');

        // Published under their own names, so that publishing again finds them
        // there; Laravel 11+ renames them to the publishing date
        // (database.migrations.update_date_on_publish), which the hasTable
        // guards of the migrations make harmless.
        $migrations = [];
        foreach (glob(__DIR__ . '/../database/migrations/*.php') as $file) {
            $migrations[$file] = $this->app->databasePath('migrations/' . basename($file));
        }
        if (method_exists($this, 'publishesMigrations')) {
            $this->publishesMigrations($migrations, 'mqtt-broadcast-migrations');
        } else {
            $this->publishes($migrations, 'mqtt-broadcast-migrations');
        }
    }

    /** `php artisan about` (Laravel 9.21 and later). */
    private function aboutSection(): void
    {
        if (!class_exists(AboutCommand::class)) {
            return;
        }
        AboutCommand::add('MQTT Broadcast', fn (): array => [
            'Extension' => phpversion('mqtt_broadcast') ?: '<fg=yellow;options=bold>NOT LOADED</>',
            'Connections' => implode(', ', array_keys((array) $this->app['config']->get('mqtt-broadcast.connections'))),
            'Daemons' => $this->runningDaemons(),
            'Dashboard' => '/' . trim((string) $this->app['config']->get('mqtt-broadcast.path', 'mqtt-broadcast'), '/'),
            'Metrics route' => filter_var($this->app['config']->get('mqtt-broadcast.metrics', false), FILTER_VALIDATE_BOOL) ? 'ENABLED' : 'OFF',
            'Queue' => $this->app['config']->get('mqtt-broadcast.queue.enabled') ? 'ENABLED' : 'OFF',
            'Logs' => $this->app['config']->get('mqtt-broadcast.logs.enable') ? 'ENABLED' : 'OFF',
        ]);
    }

    /** "2 running, 2 of 2 connections connected", from the heartbeats, as mqtt-broadcast:status reads them. */
    private function runningDaemons(): string
    {
        try {
            $daemons = $this->app->make(DaemonRegistry::class)->all();
        } catch (\Throwable $e) {
            return '<fg=yellow;options=bold>UNKNOWN</> (the cache cannot be read: ' . $e->getMessage() . ')';
        }
        if ($daemons === []) {
            return '<fg=yellow;options=bold>NONE RUNNING</>';
        }
        $connections = array_merge(...array_map(static fn (array $d) => array_values($d['connections']), array_values($daemons)));
        $connected = count(array_filter($connections, static fn (array $c) => $c['state'] === 'connected'));
        return sprintf('%d running, %d of %d connections connected', count($daemons), $connected, count($connections));
    }
}
