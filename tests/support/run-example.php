<?php

declare(strict_types=1);

// ./build.sh example: runs an example script against a throw-away mosquitto while an
// independent mosquitto_sub listens, then prints what the example printed and what arrived.

require __DIR__ . '/autoload.php';

use MqttBroadcast\Tests\Support\Broker;
use MqttBroadcast\Tests\Support\Listener;
use MqttBroadcast\Tests\Support\PhpScript;

$example = $argv[1] ?? dirname(__DIR__, 2) . '/examples/publish.php';

$broker = Broker::start();
$listener = Listener::start($broker, 'examples/#');
echo "mosquitto listening on {$broker->host()}:{$broker->port()}, mosquitto_sub subscribed to examples/#\n\n";

$result = PhpScript::runFile($example, [], ['MQTT_HOST' => $broker->host(), 'MQTT_PORT' => (string) $broker->port()], 60.0);
echo '--- ', basename($example), " (exit code {$result->exitCode}) ---\n", $result->stdout;
if ($result->stderr !== '') {
    echo "--- stderr ---\n", $result->stderr;
}

// Everything the broker accepted from the example has reached the listener after this.
$listener->sync();
$messages = $listener->messages();
echo "\n--- received by mosquitto_sub (", count($messages), " messages) ---\n";
foreach ($messages as [$topic, $payload]) {
    $printable = preg_match('//u', $payload) && !preg_match('/[\x00-\x08\x0b-\x1f\x7f]/', $payload);
    printf("%s  %s\n", $topic, $printable ? $payload : 'hex:' . bin2hex($payload));
}
$listener->stop();
$broker->stop();

exit($result->exitCode === 0 && $messages !== [] ? 0 : 1);
