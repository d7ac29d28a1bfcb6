import VGICScenario
print("vgic")
