<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel;

use Illuminate\Contracts\Debug\ExceptionHandler;
use Illuminate\Contracts\Foundation\Application;
use Illuminate\Queue\Events\Looping;
use Illuminate\Support\ServiceProvider;
use MqttBroadcast\Laravel\Commands\MqttBroadcastCommand;
use MqttBroadcast\Laravel\Commands\StatusCommand;
use MqttBroadcast\Laravel\Commands\TerminateCommand;
use MqttBroadcast\Laravel\Config\MqttBroadcastConfig;
use MqttBroadcast\Laravel\Daemon\DaemonRegistry;
use MqttBroadcast\Laravel\Logging\MessageLog;

class MqttBroadcastServiceProvider extends ServiceProvider
{
    public function register(): void
    {
        $this->mergeConfigFrom(__DIR__ . '/../config/mqtt-broadcast.php', 'mqtt-broadcast');

        // Read and validated once, on first use: a bad key fails there with its name.
        $this->app->singleton(
            MqttBroadcastConfig::class,
            static fn (Application $app) => MqttBroadcastConfig::fromArray($app['config']->get('mqtt-broadcast'))
        );
        $this->app->singleton(Connections::class);
        $this->app->singleton(
            MessageLog::class,
            static fn (Application $app) => new MessageLog($app->make(MqttBroadcastConfig::class)->logs, $app->make(ExceptionHandler::class))
        );
        $this->app->singleton(MqttBroadcast::class);
        $this->app->singleton(DaemonRegistry::class, static fn (Application $app) => new DaemonRegistry($app['cache']->store()));
    }

    public function boot(): void
    {
        if ($this->app->runningInConsole()) {
            $this->publishes([
                __DIR__ . '/../config/mqtt-broadcast.php' => $this->app->configPath('mqtt-broadcast.php'),
            ], 'mqtt-broadcast-config');
            $this->publishes([
                __DIR__ . '/../database/migrations/create_mqtt_loggers_table.php' => $this->app->databasePath('migrations/' . date('Y_m_d_His') . '_create_mqtt_loggers_table.php'),
            ], 'mqtt-broadcast-migrations');
            $this->commands([MqttBroadcastCommand::class, StatusCommand::class, TerminateCommand::class]);
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
}
