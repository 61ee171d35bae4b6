<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Queue;

use Illuminate\Contracts\Foundation\Application;
use Illuminate\Queue\Connectors\ConnectorInterface;
use MqttBroadcast\Laravel\Config\MqttBroadcastConfig;
use MqttBroadcast\Laravel\Connections;

/** The `mqtt` driver of config/queue.php. */
final class MqttConnector implements ConnectorInterface
{
    public function __construct(private readonly Application $app)
    {
    }

    /** @param array<string, mixed> $config */
    public function connect(array $config)
    {
        $settings = MqttQueueConfig::fromArray($config, 'queue.connections.' . $this->nameOf($config));
        $broadcast = $this->app->make(MqttBroadcastConfig::class);
        // A connection that is not configured fails here, with its name.
        $broadcast->connection($settings->connection);
        return new MqttQueue(
            $this->app->make(Connections::class),
            $broadcast,
            $settings,
            $settings->slotDirectory ?? $this->app->storagePath() . '/framework/mqtt-queue',
        );
    }

    /** The key of $config in queue.connections, for messages (newer Laravels pass it as "name"). */
    private function nameOf(array $config): string
    {
        if (is_string($config['name'] ?? null)) {
            return $config['name'];
        }
        foreach ((array) $this->app['config']->get('queue.connections') as $name => $candidate) {
            if ($candidate === $config) {
                return (string) $name;
            }
        }
        return 'mqtt';
    }
}
