<?php

declare(strict_types=1);

namespace MqttBroadcast\Laravel\Commands;

use Illuminate\Console\Command;
use MqttBroadcast\Laravel\Commands\Concerns\WritesComponents;

/**
 * The pure-PHP package's `mqtt-broadcast:install`: publishes the config file
 * and says what is left to do. There is no service provider to register (package
 * discovery does it) and no dashboard asset to publish.
 */
class InstallCommand extends Command
{
    use WritesComponents;

    protected $signature = 'mqtt-broadcast:install';

    protected $description = 'Publish the mqtt-broadcast config file and check that the mqtt_broadcast extension is loaded';

    public function handle(): int
    {
        $config = $this->laravel->configPath('mqtt-broadcast.php');
        if (is_file($config)) {
            $this->status('info', 'config/mqtt-broadcast.php exists already: kept as it is (vendor:publish --tag=mqtt-broadcast-config --force replaces it).');
        } else {
            $this->callSilent('vendor:publish', ['--tag' => 'mqtt-broadcast-config']);
            $this->status('info', 'Published config/mqtt-broadcast.php.');
        }

        $extension = phpversion('mqtt_broadcast');
        if ($extension === false) {
            $this->status('warn', sprintf(
                'The mqtt_broadcast extension is not loaded in this PHP (%s): install it (./build.sh install in the mqtt-broadcast repository) before publishing or running the daemon. Tests can use MqttBroadcast::fake() without it.',
                PHP_BINARY
            ));
        } else {
            $this->status('info', "The mqtt_broadcast extension $extension is loaded.");
        }

        $this->line('Next: set MQTT_HOST (and the rest of your broker) in .env, run `php artisan migrate` for the message log and the failed-publish store, `php artisan mqtt-broadcast:test` to publish a message, and `php artisan mqtt-broadcast` under systemd or supervisord to receive.');
        return $extension === false ? self::FAILURE : self::SUCCESS;
    }
}
