<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Commands;

use Illuminate\Console\Command;
use MqttBroadcast\Laravel\Commands\Concerns\WritesComponents;
use MqttBroadcast\Laravel\Config\MqttBroadcastConfig;
use MqttBroadcast\Laravel\MqttBroadcast;

/**
 * The pure-PHP package's `mqtt-broadcast:test {broker} {topic} {message}`:
 * checks the config, then publishes one message and waits until the broker
 * acknowledged it. Exit code 0 when it did, 1 with the reason when not.
 */
class TestCommand extends Command
{
    use WritesComponents;

    protected $signature = 'mqtt-broadcast:test
        {broker=default : The connection, as mqtt-broadcast.connections names it}
        {topic=mqtt-broadcast/test : The topic, below the connection\'s prefix}
        {message=mqtt-broadcast test : The payload}
        {--qos= : 0, 1 or 2 (default: the connection\'s qos)}
        {--timeout=5 : Seconds to wait for the broker\'s acknowledgement}';

    protected $description = 'Check the mqtt-broadcast config and publish a message, waiting for the broker to acknowledge it';

    public function handle(): int
    {
        $broker = (string) $this->argument('broker');
        try {
            $config = $this->laravel->make(MqttBroadcastConfig::class);
            $environment = $this->laravel->environment();
            // The environment's list too: the daemon would refuse to start on a name it lacks.
            if (isset($config->environments[$environment])) {
                $config->connectionsFor($environment);
            }
            $connection = $config->connection($broker);
            $qos = $this->option('qos') === null ? $connection->qos : (int) $this->option('qos');
            $started = microtime(true);
            $this->laravel->make(MqttBroadcast::class)->publishSync(
                (string) $this->argument('topic'),
                (string) $this->argument('message'),
                $broker,
                $qos,
                timeout: (float) $this->option('timeout'),
            );
        } catch (\Throwable $e) {
            $this->status('error', sprintf('Publishing on connection "%s" failed: %s: %s', $broker, $e::class, $e->getMessage()));
            return self::FAILURE;
        }
        $this->status('info', sprintf(
            'Published "%s" on connection "%s" (%s, QoS %d): acknowledged in %.0f ms.',
            $connection->prefix . $this->argument('topic'),
            $broker,
            $connection->address(),
            $qos,
            (microtime(true) - $started) * 1000
        ));
        return self::SUCCESS;
    }
}
