<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Commands;

use Illuminate\Console\Command;
use Mqtt\Broker;
use Mqtt\MqttException;
use MqttBroadcast\Laravel\Commands\Concerns\WritesComponents;
use MqttBroadcast\Laravel\Config\BrokerConfig;
use MqttBroadcast\Laravel\Config\Section;
use MqttBroadcast\Laravel\Exceptions\InvalidConfigException;

/**
 * `php artisan mqtt-broadcast:broker`: the extension's built-in broker
 * (Mqtt\Broker), as Reverb's `reverb:start` runs its server. The options are
 * `mqtt-broadcast.broker` (the extension's README lists them); it runs until
 * SIGTERM or SIGINT and stops gracefully. Exit code 1 when it cannot start.
 */
class BrokerCommand extends Command
{
    use WritesComponents;

    protected $signature = 'mqtt-broadcast:broker
        {--listen= : host:port to listen on, instead of mqtt-broadcast.broker.listen}';

    protected $description = 'Run the built-in MQTT broker until SIGTERM or SIGINT';

    public function handle(): int
    {
        if (!class_exists(Broker::class)) {
            $this->status('error', 'The mqtt_broadcast extension is built without its broker (cargo feature "broker"; ./build.sh builds it).');
            return self::FAILURE;
        }
        try {
            $options = BrokerConfig::read(Section::of(
                $this->laravel['config']->get('mqtt-broadcast.broker'),
                'mqtt-broadcast.broker',
                BrokerConfig::KEYS
            ))->options;
            if ($this->option('listen') !== null) {
                $options['listen'] = (string) $this->option('listen');
            }
            $broker = new Broker($options);
            $broker->start();
        } catch (InvalidConfigException | MqttException $e) {
            $this->status('error', 'The broker cannot start: ' . $e->getMessage());
            return self::FAILURE;
        }
        $addresses = array_map(
            static fn (array $listener) => "{$listener['name']}://{$listener['address']}",
            $broker->status()['listeners']
        );
        $this->status('info', 'MQTT broker listening on ' . implode(', ', $addresses) . '. Stop it with SIGTERM or Ctrl+C.');
        $broker->run();
        $this->status('info', 'MQTT broker stopped.');
        return self::SUCCESS;
    }
}
