<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel;

use Mqtt\Client;
use Mqtt\ConfigException;
use MqttBroadcast\Laravel\Config\ConnectionConfig;
use MqttBroadcast\Laravel\Config\MqttBroadcastConfig;
use MqttBroadcast\Laravel\Exceptions\ExtensionMissingException;
use MqttBroadcast\Laravel\Exceptions\InvalidConfigException;

/**
 * The extension's clients of this process, one per configured connection. The
 * extension keeps the connection itself alive across requests (same name, same
 * options); this only saves building the options again within one.
 */
final class Connections
{
    /** @var array<string, Client> */
    private array $clients = [];
    private bool $daemon = false;

    public function __construct(private readonly MqttBroadcastConfig $config)
    {
    }

    public function get(string $name): Client
    {
        return $this->clients[$name] ??= $this->open($this->config->connection($name));
    }

    /**
     * From now on this process connects with the configured client ids and
     * sessions (see ConnectionConfig::clientOptions()): called by the daemon
     * before it opens anything, so that its listeners publish through the
     * very connections it subscribes on.
     */
    public function useDaemonIdentity(): void
    {
        $this->daemon = true;
        $this->clients = [];
    }

    private function open(ConnectionConfig $connection): Client
    {
        if (!class_exists(Client::class)) {
            throw ExtensionMissingException::forThisPhp();
        }
        try {
            return new Client($connection->clientOptions($this->daemon), $connection->name);
        } catch (ConfigException $e) {
            $hint = $connection->useTls && str_contains($e->getMessage(), '"tls"')
                ? ' use_tls needs a build of the mqtt_broadcast extension with TLS support (the "tls" option).'
                : '';
            throw InvalidConfigException::because(
                "mqtt-broadcast.connections.{$connection->name}",
                'the mqtt_broadcast extension rejected its options: ' . $e->getMessage() . $hint,
                $e
            );
        }
    }
}
