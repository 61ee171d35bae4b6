<?php

declare(strict_types=1);

// ./build.sh example: runs an example script against the extension's built-in broker
// (Mqtt\Broker, on a free port) while a subscriber of our own listens, then prints
// what the example printed and what arrived. A fresh machine needs no Mosquitto for it.

require __DIR__ . '/autoload.php';

use MqttBroadcast\Tests\Support\PhpScript;

$example = $argv[1] ?? dirname(__DIR__, 2) . '/examples/publish.php';

$broker = new Mqtt\Broker(['listen' => '127.0.0.1:0']);
$broker->start();
$port = $broker->port();
$listener = new Mqtt\Client(['port' => $port, 'client_id' => 'run-example-listener'], 'run-example-listener');
$subscriber = new Mqtt\Subscriber([$listener]);
$subscriber->subscribe('examples/#', 1, 10.0);
echo "built-in broker (Mqtt\\Broker) listening on 127.0.0.1:$port, a subscriber on examples/#\n\n";

$result = PhpScript::runFile($example, [], ['MQTT_HOST' => '127.0.0.1', 'MQTT_PORT' => (string) $port], 60.0);
echo '--- ', basename($example), " (exit code {$result->exitCode}) ---\n", $result->stdout;
if ($result->stderr !== '') {
    echo "--- stderr ---\n", $result->stderr;
}

// A probe published after the example ended comes after everything the broker
// accepted from it: once it is read, what the example sent has arrived.
$probe = 'run-example-probe-' . bin2hex(random_bytes(4));
$listener->publishSync('examples/' . $probe, $probe, 1, false, 10.0);
$messages = [];
$deadline = microtime(true) + 10.0;
while (microtime(true) < $deadline) {
    $message = $subscriber->next(0.5);
    if ($message === null) {
        continue;
    }
    if ($message->payload === $probe) {
        break;
    }
    $messages[] = [$message->topic, $message->payload];
}
echo "\n--- received by the subscriber (", count($messages), " messages) ---\n";
foreach ($messages as [$topic, $payload]) {
    $printable = preg_match('//u', $payload) && !preg_match('/[\x00-\x08\x0b-\x1f\x7f]/', $payload);
    printf("%s  %s\n", $topic, $printable ? $payload : 'hex:' . bin2hex($payload));
}
$subscriber->stop();
$listener->close();
$broker->stop();

exit($result->exitCode === 0 && $messages !== [] ? 0 : 1);
