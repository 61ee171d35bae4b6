<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Commands;

use Illuminate\Console\Command;
use Illuminate\Contracts\Debug\ExceptionHandler;
use Illuminate\Support\Str;
use Mqtt\MqttException;
use MqttBroadcast\Laravel\Commands\Concerns\WritesComponents;
use MqttBroadcast\Laravel\Config\MqttBroadcastConfig;
use MqttBroadcast\Laravel\Connections;
use MqttBroadcast\Laravel\Daemon\Daemon;
use MqttBroadcast\Laravel\Daemon\DaemonRegistry;
use MqttBroadcast\Laravel\Daemon\Throughput;
use MqttBroadcast\Laravel\Exceptions\ExtensionMissingException;
use MqttBroadcast\Laravel\Exceptions\InvalidConfigException;
use MqttBroadcast\Laravel\Logging\MessageLog;
use MqttBroadcast\Laravel\Routing\RouteDispatcher;
use MqttBroadcast\Laravel\Routing\Router;

class MqttBroadcastCommand extends Command
{
    use WritesComponents;

    /** A bad config, or the extension failed (the message says which). */
    public const EXIT_ERROR = Daemon::EXIT_ERROR;

    protected $signature = 'mqtt-broadcast
        {--environment= : Listen on the connections mqtt-broadcast.environments lists for this environment (default: the application environment)}';

    protected $description = 'Receive MQTT messages and dispatch them as MqttMessageReceived events, until SIGTERM';

    public function handle(): int
    {
        if (!extension_loaded('mqtt_broadcast')) {
            $this->status('error', ExtensionMissingException::forThisPhp()->getMessage());
            return self::EXIT_ERROR;
        }
        if (!class_exists(\Mqtt\Subscriber::class)) {
            $this->status('error', 'The loaded mqtt_broadcast extension (' . phpversion('mqtt_broadcast') . ') has no Mqtt\Subscriber: the daemon needs a version that can subscribe.');
            return self::EXIT_ERROR;
        }
        $environment = $this->option('environment') ?: $this->laravel->environment();
        try {
            $config = $this->laravel->make(MqttBroadcastConfig::class);
            $router = $this->laravel->make(Router::class);
            // A route's connection with a typo would never be subscribed: say so at the start.
            foreach ([...$router->routes(), ...$router->fallbacks()] as $route) {
                $connection = is_array($route) ? $route['connection'] : $route->connection;
                if ($connection !== null) {
                    $config->connection($connection);
                }
            }
            $daemon = new Daemon(
                name: Str::slug((string) gethostname()) . '-' . Str::lower(Str::random(4)),
                environment: $environment,
                connections: $config->connectionsFor($environment),
                memory: $config->memory,
                maxInbox: $config->maxInbox,
                connectionPool: $this->laravel->make(Connections::class),
                events: $this->laravel->make('events'),
                exceptions: $this->laravel->make(ExceptionHandler::class),
                registry: $this->laravel->make(DaemonRegistry::class),
                throughput: $this->laravel->make(Throughput::class),
                log: $this->laravel->make(MessageLog::class),
                router: $router,
                dispatcher: $this->laravel->make(RouteDispatcher::class),
                logger: $this->laravel->make('log'),
                output: $this->printLine(...),
            );
            $this->warnAboutCacheStore();
            return $daemon->run();
        } catch (InvalidConfigException | MqttException $e) {
            // A bad config, a subscription the broker refused, a connection closed under us.
            $this->status('error', $e->getMessage());
            return self::EXIT_ERROR;
        }
    }

    private function printLine(string $level, string $line): void
    {
        $this->line(
            sprintf('[%s] %s', date('Y-m-d H:i:s'), $line),
            match ($level) {
                'warning' => 'comment',
                'error' => 'error',
                default => null,
            }
        );
    }

    private function warnAboutCacheStore(): void
    {
        $store = $this->laravel['config']->get('cache.default');
        if ($this->laravel['config']->get("cache.stores.$store.driver") === 'array') {
            $this->printLine('warning', "The default cache store \"$store\" lives in this process only: mqtt-broadcast:status, :terminate, the health endpoint and the dashboard will not see this daemon.");
        }
    }
}
